package dev.durabledeploy.spi.engine;

import java.time.Instant;

/**
 * A run's current state.
 *
 * @param attempts attempts started so far
 * @param lastError the last attempt's error, or {@code null}
 */
public record RunStatus(
    RunId id,
    String workflow,
    String concurrencyKey,
    RunState state,
    int attempts,
    String lastError,
    Instant updatedAt) {}
