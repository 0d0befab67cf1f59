package dev.durabledeploy.spi.health;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * What one component reports about itself: a status and a few details, each a string, a number or a
 * boolean (so a report turns into JSON or an actuator health without a mapper of its own). A detail
 * never carries a secret: a URL is reported without its credentials, an error redacted.
 *
 * <p>Each part of a store, the blob store and the engine answer {@code health()} (the SPI default
 * makes one cheap read, or reports the engine's state); the plane adds the probe's latency and
 * bounds every probe in time ({@code DurableDeploy.health()}).
 *
 * @param status the component's status
 * @param details at most {@value #MAX_DETAILS} entries, in the order they were given; keys not
 *     blank, values {@link String}, {@link Number} or {@link Boolean}
 */
public record Health(HealthStatus status, Map<String, Object> details) {

  /** Most details one component may report: a report is a summary, not a dump. */
  public static final int MAX_DETAILS = 32;

  public Health {
    Objects.requireNonNull(status, "status");
    Objects.requireNonNull(details, "details");
    if (details.size() > MAX_DETAILS) {
      throw new IllegalArgumentException(
          "at most " + MAX_DETAILS + " details, got " + details.size());
    }
    Map<String, Object> copy = new LinkedHashMap<>();
    details.forEach(
        (key, value) -> {
          if (key == null || key.isBlank()) {
            throw new IllegalArgumentException("a detail needs a name");
          }
          if (!(value instanceof String || value instanceof Number || value instanceof Boolean)) {
            throw new IllegalArgumentException(
                "detail '"
                    + key
                    + "' must be a string, a number or a boolean, was "
                    + (value == null ? "null" : value.getClass().getName()));
          }
          copy.put(key, value);
        });
    details = Collections.unmodifiableMap(copy);
  }

  /** UP, with no details. */
  public static Health up() {
    return new Health(HealthStatus.UP, Map.of());
  }

  /** UP with {@code details}. */
  public static Health up(Map<String, ?> details) {
    return of(HealthStatus.UP, details);
  }

  /** DEGRADED with {@code details} (one of them should say why). */
  public static Health degraded(Map<String, ?> details) {
    return of(HealthStatus.DEGRADED, details);
  }

  /** DOWN with {@code details} (one of them should say why). */
  public static Health down(Map<String, ?> details) {
    return of(HealthStatus.DOWN, details);
  }

  /** {@code status} with {@code details}. */
  public static Health of(HealthStatus status, Map<String, ?> details) {
    return new Health(status, new LinkedHashMap<>(details));
  }

  /** This health with one more detail, or {@code key} replaced. */
  public Health withDetail(String key, Object value) {
    Map<String, Object> all = new LinkedHashMap<>(details);
    all.put(key, value);
    return new Health(status, all);
  }

  /** This health with the worse of its status and {@code worst}. */
  public Health atWorst(HealthStatus worst) {
    return new Health(status.and(worst), details);
  }
}
