package dev.durabledeploy.core.health;

import dev.durabledeploy.spi.exception.ConfigurationException;
import dev.durabledeploy.spi.support.Config;
import java.time.Duration;

/**
 * The thresholds of {@code DurableDeploy.health()}, each with a named default; a wrong value fails
 * with {@link ConfigurationException} naming it.
 *
 * @param probeTimeout how long {@code health()} waits for each component's probe (all run at once,
 *     so a call returns within about this long); a probe that has not answered by then reports its
 *     component DOWN
 * @param relayLagThreshold the relay is DEGRADED while the oldest undelivered outbox event has
 *     waited longer than this
 */
public record HealthOptions(Duration probeTimeout, Duration relayLagThreshold) {

  /** Long enough for a round trip to a loaded database, short enough for a readiness probe. */
  public static final Duration DEFAULT_PROBE_TIMEOUT = Duration.ofSeconds(2);

  /**
   * An event normally reaches the engine within a second (the relay polls every second, and is
   * woken at once by an append); a minute means the relay does not keep up, or a site is held back
   * by an event whose dispatch keeps failing.
   */
  public static final Duration DEFAULT_RELAY_LAG_THRESHOLD = Duration.ofMinutes(1);

  /** Longest accepted {@code probeTimeout}: a health call must answer while someone waits. */
  public static final Duration MAX_PROBE_TIMEOUT = Duration.ofMinutes(1);

  public HealthOptions {
    Config.requirePositive("probeTimeout", probeTimeout);
    if (probeTimeout.compareTo(MAX_PROBE_TIMEOUT) > 0) {
      throw new ConfigurationException(
          "probeTimeout", "must be at most " + MAX_PROBE_TIMEOUT + ", was " + probeTimeout);
    }
    Config.requirePositive("relayLagThreshold", relayLagThreshold);
  }

  /** Every default. */
  public static HealthOptions defaults() {
    return new HealthOptions(DEFAULT_PROBE_TIMEOUT, DEFAULT_RELAY_LAG_THRESHOLD);
  }

  /** These options with {@code probeTimeout} instead. */
  public HealthOptions withProbeTimeout(Duration probeTimeout) {
    return new HealthOptions(probeTimeout, relayLagThreshold);
  }

  /** These options with {@code relayLagThreshold} instead. */
  public HealthOptions withRelayLagThreshold(Duration relayLagThreshold) {
    return new HealthOptions(probeTimeout, relayLagThreshold);
  }
}
