package dev.durabledeploy.engine.executor;

import dev.durabledeploy.spi.Inputs;
import dev.durabledeploy.spi.engine.RunContext;
import dev.durabledeploy.spi.engine.RunState;
import dev.durabledeploy.spi.events.OperationEvent;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import java.util.random.RandomGenerator;

/**
 * The workers' loop: takes the next ready run, runs one attempt of its handler outside the lock,
 * and settles the outcome under it. A failed attempt is retried per the definition's {@code
 * RetryPolicy} (full-jitter backoff) while its key waits; an exhausted or permanent failure is
 * dead-lettered, which releases the key (E5); a failure while the engine stops hands the run back.
 */
final class ExecuteRuns implements Runnable {

  private final EngineState state;
  private final FairQueue queue;
  private final Runs runs;
  private final DeadLetters deadLetters;
  private final WorkerThreads threads;
  private final Clock clock;
  private final RandomGenerator random;
  private final Consumer<OperationEvent> publish;
  private final MeterRegistry meters;
  private final Counter retries;
  // Meter lookups are not free; one timer per (workflow, outcome), created on first use.
  private final ConcurrentHashMap<String, Timer> timers = new ConcurrentHashMap<>();

  ExecuteRuns(
      EngineState state,
      FairQueue queue,
      Runs runs,
      DeadLetters deadLetters,
      WorkerThreads threads,
      Clock clock,
      RandomGenerator random,
      Consumer<OperationEvent> publish,
      MeterRegistry meters) {
    this.state = state;
    this.queue = queue;
    this.runs = runs;
    this.deadLetters = deadLetters;
    this.threads = threads;
    this.clock = clock;
    this.random = random;
    this.publish = publish;
    this.meters = meters;
    this.retries =
        Counter.builder("durable.engine.retries")
            .description("workflow attempts that failed and were retried")
            .register(meters);
  }

  /** A run taken for its next attempt, with the context its handler sees. */
  private record Picked(Run run, RunContext context) {}

  @Override
  public void run() {
    Picked picked;
    while ((picked = state.locked(this::pick)) != null) {
      attempt(picked.run(), picked.context());
    }
  }

  /** Lock held. Waits for the next ready run; null once the engine stops. */
  private Picked pick() {
    Run run = queue.take();
    if (run == null) {
      return null;
    }
    run.attempts++;
    run.set(RunState.RUNNING);
    return new Picked(run, run.context(() -> !state.running()));
  }

  private void attempt(Run run, RunContext context) {
    long start = System.nanoTime();
    if (run.attempts == 1) {
      publish.accept(
          new OperationEvent.Started(
              run.id.value(), run.definition.name(), run.site(), clock.instant()));
    }
    Throwable failure = null;
    try {
      run.definition.handler().run(context);
    } catch (Exception | Error e) {
      failure = e;
    }
    Duration took = Duration.ofNanos(System.nanoTime() - start);
    Throwable failed = failure;
    state.lockedRun(() -> settle(run, failed, took));
  }

  /** Lock held. */
  private void settle(Run run, Throwable failure, Duration took) {
    if (failure == null) {
      run.set(RunState.SUCCEEDED);
      finish(run, "success", took);
      publish.accept(
          new OperationEvent.Succeeded(
              run.id.value(), run.definition.name(), run.site(), took, "", clock.instant()));
      run.done.complete(run.handle(false));
      return;
    }
    run.lastError =
        Inputs.redactCredentials(failure.getClass().getSimpleName() + ": " + failure.getMessage());
    if (!state.running()) {
      run.abandon();
      finish(run, "abandoned", took);
    } else if (run.definition.retryPolicy().shouldRetry(run.attempts, failure)) {
      scheduleRetry(run);
    } else {
      deadLetters.add(run);
      finish(run, "dead_letter", took);
    }
  }

  /** Lock held. The key stays busy while the run waits, so nothing of the key overtakes it. */
  private void scheduleRetry(Run run) {
    run.set(RunState.RETRYING);
    Duration delay = run.definition.retryPolicy().delayBefore(run.attempts, random);
    retries.increment();
    publish.accept(
        new OperationEvent.Retrying(
            run.id.value(),
            run.definition.name(),
            run.site(),
            run.attempts + 1,
            delay,
            run.lastError,
            clock.instant()));
    run.timer =
        threads.schedule(
            () ->
                state.lockedRun(
                    () -> {
                      if (run.state == RunState.RETRYING) {
                        run.set(RunState.QUEUED);
                        queue.retryDue(run);
                      }
                    }),
            delay.toNanos());
  }

  /** Lock held. Releases the run's key and keeps the run among the finished ones. */
  private void finish(Run run, String outcome, Duration took) {
    queue.release(run);
    runs.finish(run);
    timers
        .computeIfAbsent(
            run.definition.name() + "\u0000" + outcome,
            k ->
                Timer.builder("durable.engine.run")
                    .description("workflow run attempts to their outcome")
                    .tag("workflow", run.definition.name())
                    .tag("outcome", outcome)
                    .register(meters))
        .record(took);
  }
}
