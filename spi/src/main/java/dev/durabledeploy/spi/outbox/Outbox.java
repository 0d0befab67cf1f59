package dev.durabledeploy.spi.outbox;

import dev.durabledeploy.spi.events.Subscription;
import java.time.Duration;
import java.time.Instant;
import java.util.Collection;
import java.util.List;
import java.util.Optional;

/**
 * The transactional outbox: events appended in the same atom as the metadata change they announce
 * (see {@link dev.durabledeploy.spi.metadata.MetadataStore}), delivered at least once, in id order
 * within a site (docs/invariants.md E3).
 *
 * <p>Claims are leases: a claimer ({@code owner}) holds its events until it acks, fails or releases
 * them or until the lease expires, after which another claimer gets them again (E4). Times come
 * from the store's injected clock. Implementations are thread-safe and safe across processes.
 *
 * <p><b>Dead letters and per-site order.</b> An event whose dispatch keeps failing is {@linkplain
 * #deadLetter dead-lettered}: it leaves the undelivered events, so the site's later events are
 * delivered without it (E3's order then holds among the events that are delivered). {@linkplain
 * #retryDeadLetter Retrying} it makes it undelivered again under its own id: it goes before every
 * later event of its site still undelivered, but after those delivered while it was a dead letter,
 * so a consumer may see it after newer events. Consumers must already be idempotent (E3); one that
 * also depends on order should judge an event by the state it names (a version, the current rows),
 * as the alias projection and GC do, rather than by arrival.
 */
public interface Outbox {

  /** Appends an event outside any metadata command (host events) and returns its id. */
  long append(NewEvent event);

  /**
   * Claims up to {@code maxEvents} events for {@code owner} until {@code now + leaseTtl}.
   *
   * <p>Ordering rule: a site's events are handed out in id order, to one owner at a time. A site is
   * claimable only when none of its undelivered events is under a live claim and its oldest
   * undelivered event is due ({@code nextAttemptAt <= now}); from a claimable site the batch takes
   * a run of consecutive due events starting at the oldest. Sites compete by the id of their oldest
   * event, so no site starves. The returned list is ordered by id.
   *
   * <p>A store that runs claims one at a time may return an empty list while another claim on the
   * same outbox is in progress, rather than wait for it: that claim hands out what is claimable,
   * and a caller that got nothing claims again on its next wake-up.
   */
  List<OutboxEvent> claim(String owner, int maxEvents, Duration leaseTtl);

  /**
   * Marks events delivered. Idempotent; an id already delivered, dead-lettered or unknown is
   * skipped. Accepted from any owner, because the work it acknowledges was done. Returns how many
   * became delivered.
   */
  int ack(String owner, Collection<Long> ids);

  /**
   * Records a failed dispatch: the claim is dropped, {@code error} (truncated to 2,000 characters)
   * is kept, the event's {@link OutboxEvent#failures() failures} go up by one and it is not due
   * again before {@code nextAttemptAt}. Since the event stays the oldest of its site, the site
   * waits with it (until it is {@linkplain #deadLetter dead-lettered}). Returns false when {@code
   * owner} no longer holds the claim (nothing changes then).
   */
  boolean fail(String owner, long id, String error, Instant nextAttemptAt);

  /**
   * Hands claimed events back without counting a failure (graceful shutdown). Returns how many of
   * them {@code owner} still held.
   */
  int release(String owner, Collection<Long> ids);

  /**
   * Extends {@code owner}'s live claims on {@code ids} to {@code now + leaseTtl}. Returns how many
   * were extended; a claim that already expired is not revived.
   */
  int renew(String owner, Collection<Long> ids, Duration leaseTtl);

  /**
   * Deletes up to {@code limit} delivered events delivered before {@code cutoff}; returns count.
   */
  int purgeDelivered(Instant cutoff, int limit);

  /** The backlog, for lag metrics. */
  OutboxStats stats();

  /**
   * Dead-letters a claimed event whose dispatch failed for good: the claim is dropped, {@code
   * error} (truncated to 2,000 characters) is kept, its failure count goes up by one as with {@link
   * #fail}, and the event is neither undelivered (no claim hands it out, it no longer holds back
   * its site, {@link #stats} counts it apart) nor purged with the delivered events. Returns false
   * when {@code owner} no longer holds the claim (nothing changes then).
   *
   * <p>The default throws {@link UnsupportedOperationException}: an outbox that keeps no dead
   * letters lets the relay retry the event for ever, as before this method existed.
   */
  default boolean deadLetter(String owner, long id, String error) {
    throw new UnsupportedOperationException(getClass().getName() + " keeps no dead letters");
  }

  /** Up to {@code limit} (1 to 10,000) dead letters, oldest event id first. */
  default List<OutboxDeadLetter> deadLetters(int limit) {
    return List.of();
  }

  /**
   * Makes a dead letter undelivered again, due now, with its failure count back at 0 and its last
   * error kept; it is delivered before its site's later undelivered events (see the class comment
   * for what that means for order). Returns false when {@code id} is not a dead letter.
   */
  default boolean retryDeadLetter(long id) {
    return false;
  }

  /** Deletes a dead letter for good. Returns false when {@code id} is not a dead letter. */
  default boolean discardDeadLetter(long id) {
    return false;
  }

  /**
   * Registers a callback run (on some store thread, briefly) soon after any event is appended, so a
   * relay can wake up instead of polling. Empty when the store cannot notify; the relay then polls.
   * Notifications may be lost or merged: they are a hint, never the source of truth.
   */
  default Optional<Subscription> onAppend(Runnable wakeUp) {
    return Optional.empty();
  }

  /**
   * Registers a relay of this process whose events are claimed by the transaction that appends
   * them, and handed to it after the commit ({@link AppendClaimer}). An appended event is claimed
   * so only when its site had no undelivered event before the appending transaction (then nothing
   * of the site can be ahead of it, and no other claimer can hold the site), the transaction can
   * tell when it committed, and the claimer {@linkplain AppendClaimer#hasRoom has room}; otherwise
   * it waits for {@link #claim} as usual. With several claimers, each append picks one that has
   * room. Should the claimer's process die between the commit and the dispatch, the claim expires
   * after its lease and the event is claimed again (E4).
   *
   * <p>Order: a site's events appended by transactions that follow one another (one committed
   * before the next appended, as a site's metadata commands do under the site's lock) are delivered
   * in id order. Events of one site appended by transactions running at the same time have no order
   * between them, claimed on append or not (ids are drawn before the commit, and an event is
   * claimable from its commit on).
   *
   * <p>Empty when the store cannot claim on append (the default): the relay then relies on {@link
   * #onAppend} and polling.
   */
  default Optional<Subscription> claimOnAppend(AppendClaimer claimer) {
    return Optional.empty();
  }
}
