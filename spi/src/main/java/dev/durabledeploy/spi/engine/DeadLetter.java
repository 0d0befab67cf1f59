package dev.durabledeploy.spi.engine;

import java.time.Instant;
import java.util.Map;

/** A run that exhausted its attempts, kept with its input and last error for a human to act on. */
public record DeadLetter(
    RunId id,
    String workflow,
    Map<String, String> input,
    String concurrencyKey,
    int attempts,
    String lastError,
    Instant deadAt) {

  public DeadLetter {
    input = Map.copyOf(input);
  }
}
