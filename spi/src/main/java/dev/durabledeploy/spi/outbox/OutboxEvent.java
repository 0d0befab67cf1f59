package dev.durabledeploy.spi.outbox;

import dev.durabledeploy.spi.SiteId;
import java.time.Instant;
import java.util.Map;

/**
 * An event as claimed from the outbox.
 *
 * @param id increasing in append order; delivery is in id order within a site
 * @param deliveryAttempt 1 on the first claim, then +1 on every later claim (after a failure or an
 *     expired lease), so a consumer can tell a redelivery
 * @param lastError the error recorded by the last {@link Outbox#fail}, or {@code null}
 * @param failures how many dispatches of it failed ({@link Outbox#fail} calls) since it was
 *     appended or last {@linkplain Outbox#retryDeadLetter retried}; unlike {@code deliveryAttempt}
 *     it does not count expired claims or releases, so the relay dead-letters on it
 */
public record OutboxEvent(
    long id,
    SiteId site,
    String type,
    Map<String, String> payload,
    Instant createdAt,
    int deliveryAttempt,
    String lastError,
    int failures) {

  public OutboxEvent {
    payload = Map.copyOf(payload);
  }

  /** An event whose failures a store does not count (reported as 0). */
  public OutboxEvent(
      long id,
      SiteId site,
      String type,
      Map<String, String> payload,
      Instant createdAt,
      int deliveryAttempt,
      String lastError) {
    this(id, site, type, payload, createdAt, deliveryAttempt, lastError, 0);
  }

  /** A payload attribute, or {@code null}. */
  public String get(String key) {
    return payload.get(key);
  }
}
