package dev.durabledeploy.spi.outbox;

import java.time.Instant;
import java.util.Objects;

/**
 * An outbox event the relay gave up on after its budget of failed dispatches ({@link
 * Outbox#deadLetter}). It is kept, with its last error, until a human retries or discards it; it no
 * longer holds back its site.
 *
 * @param event the event as it was last claimed: payload, {@code lastError}, {@code failures}
 * @param deadLetteredAt when it was dead-lettered (the store's clock)
 */
public record OutboxDeadLetter(OutboxEvent event, Instant deadLetteredAt) {

  public OutboxDeadLetter {
    Objects.requireNonNull(event, "event");
    Objects.requireNonNull(deadLetteredAt, "deadLetteredAt");
  }

  public long id() {
    return event.id();
  }
}
