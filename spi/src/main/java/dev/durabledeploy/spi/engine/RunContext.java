package dev.durabledeploy.spi.engine;

import java.util.Map;
import java.util.function.BooleanSupplier;

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

  /** A context of fixed values, for engines; {@code cancelled} is asked on every call. */
  static RunContext of(
      RunId runId,
      String workflow,
      Map<String, String> input,
      String concurrencyKey,
      int attempt,
      BooleanSupplier cancelled) {
    return new RunContext() {
      @Override
      public RunId runId() {
        return runId;
      }

      @Override
      public String workflow() {
        return workflow;
      }

      @Override
      public Map<String, String> input() {
        return input;
      }

      @Override
      public String concurrencyKey() {
        return concurrencyKey;
      }

      @Override
      public int attempt() {
        return attempt;
      }

      @Override
      public boolean isCancelled() {
        return cancelled.getAsBoolean();
      }
    };
  }
}
