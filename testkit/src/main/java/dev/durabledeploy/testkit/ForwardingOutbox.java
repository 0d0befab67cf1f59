package dev.durabledeploy.testkit;

import dev.durabledeploy.spi.events.Subscription;
import dev.durabledeploy.spi.outbox.AppendClaimer;
import dev.durabledeploy.spi.outbox.NewEvent;
import dev.durabledeploy.spi.outbox.Outbox;
import dev.durabledeploy.spi.outbox.OutboxDeadLetter;
import dev.durabledeploy.spi.outbox.OutboxEvent;
import dev.durabledeploy.spi.outbox.OutboxStats;
import java.time.Duration;
import java.time.Instant;
import java.util.Collection;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * An {@link Outbox} that hands every call, the optional ones too, to another one. A test or a
 * benchmark overrides what it wants to hide or break (no append notifications, so a relay can only
 * poll; no claiming on append) and leaves the rest to a real outbox.
 */
public class ForwardingOutbox implements Outbox {

  private final Outbox delegate;

  public ForwardingOutbox(Outbox delegate) {
    this.delegate = Objects.requireNonNull(delegate, "delegate");
  }

  /** The outbox every call goes to. */
  protected final Outbox delegate() {
    return delegate;
  }

  @Override
  public long append(NewEvent event) {
    return delegate.append(event);
  }

  @Override
  public List<OutboxEvent> claim(String owner, int maxEvents, Duration leaseTtl) {
    return delegate.claim(owner, maxEvents, leaseTtl);
  }

  @Override
  public int ack(String owner, Collection<Long> ids) {
    return delegate.ack(owner, ids);
  }

  @Override
  public boolean fail(String owner, long id, String error, Instant nextAttemptAt) {
    return delegate.fail(owner, id, error, nextAttemptAt);
  }

  @Override
  public int release(String owner, Collection<Long> ids) {
    return delegate.release(owner, ids);
  }

  @Override
  public int renew(String owner, Collection<Long> ids, Duration leaseTtl) {
    return delegate.renew(owner, ids, leaseTtl);
  }

  @Override
  public int purgeDelivered(Instant cutoff, int limit) {
    return delegate.purgeDelivered(cutoff, limit);
  }

  @Override
  public OutboxStats stats() {
    return delegate.stats();
  }

  @Override
  public boolean deadLetter(String owner, long id, String error) {
    return delegate.deadLetter(owner, id, error);
  }

  @Override
  public List<OutboxDeadLetter> deadLetters(int limit) {
    return delegate.deadLetters(limit);
  }

  @Override
  public boolean retryDeadLetter(long id) {
    return delegate.retryDeadLetter(id);
  }

  @Override
  public boolean discardDeadLetter(long id) {
    return delegate.discardDeadLetter(id);
  }

  @Override
  public Optional<Subscription> onAppend(Runnable wakeUp) {
    return delegate.onAppend(wakeUp);
  }

  @Override
  public Optional<Subscription> claimOnAppend(AppendClaimer claimer) {
    return delegate.claimOnAppend(claimer);
  }
}
