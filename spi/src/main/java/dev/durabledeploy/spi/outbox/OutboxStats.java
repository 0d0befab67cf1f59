package dev.durabledeploy.spi.outbox;

import java.time.Duration;
import java.time.Instant;
import java.util.Optional;

/**
 * The outbox's backlog.
 *
 * @param undelivered events not yet acknowledged, claimed or not
 * @param claimed of those, how many are under a live claim
 * @param oldestUndeliveredAt creation time of the oldest undelivered event, or {@code null}
 * @param deadLettered events {@linkplain Outbox#deadLetter dead-lettered} and not yet retried or
 *     discarded; they are not part of {@code undelivered}
 */
public record OutboxStats(
    long undelivered, long claimed, Instant oldestUndeliveredAt, long deadLettered) {

  /** Stats of an outbox without dead letters. */
  public OutboxStats(long undelivered, long claimed, Instant oldestUndeliveredAt) {
    this(undelivered, claimed, oldestUndeliveredAt, 0);
  }

  /** How long the oldest undelivered event has waited at {@code now}; zero when none waits. */
  public Duration lag(Instant now) {
    return Optional.ofNullable(oldestUndeliveredAt)
        .map(t -> Duration.between(t, now))
        .filter(d -> !d.isNegative())
        .orElse(Duration.ZERO);
  }
}
