package dev.durabledeploy.spi.outbox;

import java.time.Duration;
import java.util.List;

/**
 * A relay in this process that takes events claimed for it by the transaction that appends them
 * ({@link Outbox#claimOnAppend}), so an event committed here is dispatched right after its commit,
 * without waiting for a notification and a claim round trip.
 */
public interface AppendClaimer {

  /** The owner the events are claimed for, as in {@link Outbox#claim}. */
  String owner();

  /** The lease of such a claim, as in {@link Outbox#claim}. */
  Duration leaseTtl();

  /**
   * Whether the claimer takes more events now. Asked while appending, before the events are claimed
   * for it; false lets the events wait for an ordinary {@link Outbox#claim}.
   */
  boolean hasRoom();

  /**
   * The events claimed for {@link #owner()}, in id order, called after the transaction that
   * appended them committed, on the committing thread: the claimer must not block. Their lease
   * began {@code leaseAge} ago (by the store's clock, so a claimer on another clock can place it on
   * its own) and runs for {@link #leaseTtl()}. The claimer holds them as if it had claimed them
   * ({@link Outbox#ack}, {@link Outbox#fail}, {@link Outbox#release}, {@link Outbox#renew}); when
   * it cannot take them it releases them.
   */
  void claimed(Duration leaseAge, List<OutboxEvent> events);
}
