package dev.durabledeploy.spi.health;

/**
 * How one component of the plane, or the plane as a whole, is doing. Ordered from best to worst, so
 * the plane's status is the worst of its components'.
 */
public enum HealthStatus {
  /** Answers within its deadline and nothing needs a person. */
  UP,
  /**
   * Answers, but is behind or at risk: work is delayed (an outbox event older than the configured
   * threshold, a full engine queue), needs a person (a dead letter), or a guarantee rests on a
   * setting the component reports (a Valkey server that may evict keys). Nothing is lost yet.
   */
  DEGRADED,
  /** Does not answer within its deadline, fails, or is not running. */
  DOWN;

  /** The worse of this status and {@code other}. */
  public HealthStatus and(HealthStatus other) {
    return other.ordinal() > ordinal() ? other : this;
  }
}
