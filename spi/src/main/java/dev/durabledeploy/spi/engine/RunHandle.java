package dev.durabledeploy.spi.engine;

/**
 * A durably accepted run.
 *
 * @param deduplicated true when the submission matched an earlier one (idempotency key or a
 *     debounced burst) and no new run was created
 */
public record RunHandle(RunId id, String workflow, boolean deduplicated) {}
