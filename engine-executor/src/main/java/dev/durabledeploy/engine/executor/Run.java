package dev.durabledeploy.engine.executor;

import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.engine.EngineStatus;
import dev.durabledeploy.spi.engine.RunContext;
import dev.durabledeploy.spi.engine.RunHandle;
import dev.durabledeploy.spi.engine.RunId;
import dev.durabledeploy.spi.engine.RunState;
import dev.durabledeploy.spi.engine.RunStatus;
import dev.durabledeploy.spi.engine.WorkflowDefinition;
import dev.durabledeploy.spi.exception.EngineNotRunningException;
import dev.durabledeploy.spi.exception.InvalidInputException;
import java.time.Clock;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledFuture;
import java.util.function.BooleanSupplier;

/** One submitted run and its progress. The mutable fields are guarded by the engine lock. */
final class Run {

  final RunId id;
  final WorkflowDefinition definition;
  final String key;

  /** Debounced runs are accepted at once; the others when they finish (see the engine's doc). */
  final boolean acceptOnEnqueue;

  /** The key's queue: concurrency keys are scoped per workflow. */
  final String queueKey;

  final CompletableFuture<RunHandle> done = new CompletableFuture<>();
  final long firstSubmitNanos = System.nanoTime();
  final Instant submittedAt;
  private final Clock clock;

  Map<String, String> input;
  int attempts;
  RunState state = RunState.QUEUED;
  String lastError;
  Instant updatedAt;

  /** The pending debounce fire or retry, cancelled when the run is handed back. */
  ScheduledFuture<?> timer;

  Run(
      RunId id,
      WorkflowDefinition definition,
      Map<String, String> input,
      boolean acceptOnEnqueue,
      Clock clock) {
    this.id = id;
    this.definition = definition;
    this.input = input;
    this.key = definition.keyOf(input);
    this.queueKey = definition.name() + ":" + key;
    this.acceptOnEnqueue = acceptOnEnqueue;
    this.clock = clock;
    this.submittedAt = clock.instant();
    this.updatedAt = submittedAt;
  }

  RunHandle handle(boolean deduplicated) {
    return new RunHandle(id, definition.name(), deduplicated);
  }

  void set(RunState next) {
    state = next;
    updatedAt = clock.instant();
  }

  RunStatus status() {
    return new RunStatus(id, definition.name(), key, state, attempts, lastError, updatedAt);
  }

  RunContext context(BooleanSupplier stopping) {
    return RunContext.of(id, definition.name(), input, key, attempts, stopping);
  }

  /** The run's site for its events, when its input names a valid one. */
  SiteId site() {
    String value = input.get("site");
    try {
      return value == null ? null : SiteId.of(value);
    } catch (InvalidInputException notASite) {
      return null;
    }
  }

  /**
   * Hands the run back unfinished at stop: its submission fails, so the relay redelivers its event.
   */
  void abandon() {
    set(RunState.ABANDONED);
    if (timer != null) {
      timer.cancel(false);
    }
    done.completeExceptionally(
        new EngineNotRunningException(
            EngineStatus.STOPPING,
            "workflow run " + id + " was handed back: the engine stopped before it finished"));
  }
}
