package dev.durabledeploy.spi.engine;

import java.util.Map;

/** What a workflow handler knows about the run it executes. */
public interface RunContext {

  RunId runId();

  String workflow();

  /** The submission's input. */
  Map<String, String> input();

  /** The run's concurrency key as computed by the definition. */
  String concurrencyKey();

  /** 1 on the first attempt, then +1 per retry. */
  int attempt();

  /** Whether the engine is shutting down; a long handler should stop early and throw. */
  boolean isCancelled();
}
