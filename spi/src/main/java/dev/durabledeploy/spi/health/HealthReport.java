package dev.durabledeploy.spi.health;

import java.time.Instant;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * The plane's health: one {@link Health} per component, by name, and the overall status, which is
 * the worst of theirs. A plain immutable value, so an admin API serves it as JSON and a Spring
 * starter maps it to a composite health indicator as it is.
 *
 * @param status the worst status of the components
 * @param checkedAt when the probes started, on the plane's clock
 * @param components by component name ({@link #METADATA}, {@link #OUTBOX}, {@link #SITE_LOCKS},
 *     {@link #LEASES}, {@link #BLOB_STORE}, {@link #ENGINE}, {@link #RELAY}), in that order
 */
public record HealthReport(HealthStatus status, Instant checkedAt, Map<String, Health> components) {

  /** The metadata store: deploys, aliases, tombstones, sites, audit log. */
  public static final String METADATA = "metadata";

  /** The transactional outbox: its backlog and dead letters. */
  public static final String OUTBOX = "outbox";

  /** The per-site locks. */
  public static final String SITE_LOCKS = "site-locks";

  /** The job leases. */
  public static final String LEASES = "leases";

  /** Where deploy bytes live. */
  public static final String BLOB_STORE = "blob-store";

  /** The workflow engine. */
  public static final String ENGINE = "engine";

  /** The outbox relay: whether it runs and how far behind the outbox it is. */
  public static final String RELAY = "relay";

  public HealthReport {
    Objects.requireNonNull(checkedAt, "checkedAt");
    Objects.requireNonNull(components, "components");
    HealthStatus worst = HealthStatus.UP;
    for (Map.Entry<String, Health> c : components.entrySet()) {
      Objects.requireNonNull(c.getKey(), "component name");
      worst = worst.and(Objects.requireNonNull(c.getValue(), c.getKey()).status());
    }
    if (status != worst) {
      throw new IllegalArgumentException(
          "status must be the worst of the components' (" + worst + "), was " + status);
    }
    components = Collections.unmodifiableMap(new LinkedHashMap<>(components));
  }

  /** A report whose status is the worst of {@code components}'. */
  public static HealthReport of(Instant checkedAt, Map<String, Health> components) {
    HealthStatus worst = HealthStatus.UP;
    for (Health h : components.values()) {
      worst = worst.and(h.status());
    }
    return new HealthReport(worst, checkedAt, components);
  }

  /** The component's health; throws {@link IllegalArgumentException} for an unknown name. */
  public Health component(String name) {
    Health h = components.get(name);
    if (h == null) {
      throw new IllegalArgumentException(
          "no component '" + name + "'; the report has " + components.keySet());
    }
    return h;
  }
}
