package dev.durabledeploy.spi.engine;

import dev.durabledeploy.spi.exception.ConfigurationException;
import java.time.Duration;
import java.util.Objects;

/**
 * Collapses a burst of submissions with the same concurrency key into one run, started once no new
 * submission arrived for {@code quiet}, or at the latest {@code maxDelay} after the first of the
 * burst, so a constant stream still runs. The run gets the latest submission's input.
 */
public record Debounce(Duration quiet, Duration maxDelay) {

  public Debounce {
    Objects.requireNonNull(quiet, "quiet");
    Objects.requireNonNull(maxDelay, "maxDelay");
    if (quiet.isNegative() || quiet.isZero()) {
      throw new ConfigurationException("debounce.quiet", "must be positive");
    }
    if (maxDelay.compareTo(quiet) < 0) {
      throw new ConfigurationException("debounce.maxDelay", "must be at least quiet " + quiet);
    }
  }
}
