package dev.durabledeploy.store.memory;

import dev.durabledeploy.spi.Inputs;
import dev.durabledeploy.spi.engine.CronSchedule;
import dev.durabledeploy.spi.engine.DeadLetter;
import dev.durabledeploy.spi.engine.EngineStatus;
import dev.durabledeploy.spi.engine.RunContext;
import dev.durabledeploy.spi.engine.RunHandle;
import dev.durabledeploy.spi.engine.RunId;
import dev.durabledeploy.spi.engine.RunState;
import dev.durabledeploy.spi.engine.RunStatus;
import dev.durabledeploy.spi.engine.Submission;
import dev.durabledeploy.spi.engine.WorkflowDefinition;
import dev.durabledeploy.spi.engine.WorkflowEngine;
import dev.durabledeploy.spi.exception.DurableDeployException;
import dev.durabledeploy.spi.exception.InvalidInputException;
import dev.durabledeploy.spi.support.Threads;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.random.RandomGenerator;

/**
 * The reference workflow engine: every attempt runs on one thread, so runs of a key trivially never
 * overlap, in submission order per key. Retries, dead letters (which never block their key),
 * idempotency keys and debounce follow the SPI exactly; cron schedules are stored and fired by
 * {@link #fire} rather than by a clock, so tests decide when. Concurrency keys are scoped per
 * workflow. Nothing is durable: use {@code engine-executor} in production.
 */
public final class InMemoryWorkflowEngine implements WorkflowEngine {

  /** How long {@link #close()} waits for a running attempt. */
  public static final Duration DEFAULT_STOP_DEADLINE = Duration.ofSeconds(10);

  private final class Run {
    final RunId id;
    final WorkflowDefinition definition;
    final String key;
    final long firstSubmitNanos = System.nanoTime();
    Map<String, String> input;
    int attempts;
    RunState state = RunState.QUEUED;
    String lastError;
    Instant updatedAt = clock.instant();
    ScheduledFuture<?> debounceTimer;

    Run(RunId id, WorkflowDefinition definition, Map<String, String> input) {
      this.id = id;
      this.definition = definition;
      this.input = input;
      this.key = definition.keyOf(input);
    }

    String queueKey() {
      return definition.name() + ":" + key;
    }

    void set(RunState next) {
      state = next;
      updatedAt = clock.instant();
    }

    RunStatus status() {
      return new RunStatus(id, definition.name(), key, state, attempts, lastError, updatedAt);
    }
  }

  private final Clock clock;
  private final RandomGenerator random;
  private final ScheduledExecutorService executor =
      Executors.newSingleThreadScheduledExecutor(Threads.daemonNamed("in-memory-workflow-engine"));
  private final Map<String, WorkflowDefinition> definitions = new ConcurrentHashMap<>();
  private final AtomicLong ids = new AtomicLong();
  // Guarded by this.
  private final Map<RunId, Run> runs = new HashMap<>();
  private final Map<String, Run> idempotent = new HashMap<>();
  private final Map<String, Run> debouncing = new HashMap<>();
  private final Map<String, ArrayDeque<Run>> waiting = new HashMap<>();
  private final Set<String> busyKeys = new HashSet<>();
  private final Map<RunId, DeadLetter> deadLetters = new LinkedHashMap<>();
  private final Map<String, CronSchedule> schedules = new HashMap<>();
  private volatile EngineStatus status = EngineStatus.NEW;

  public InMemoryWorkflowEngine(Clock clock, RandomGenerator random) {
    this.clock = clock;
    this.random = random;
  }

  public InMemoryWorkflowEngine() {
    this(Clock.systemUTC(), new SplittableRandom());
  }

  @Override
  public void register(WorkflowDefinition definition) {
    if (definitions.putIfAbsent(definition.name(), definition) != null) {
      throw WorkflowEngine.alreadyRegistered(definition);
    }
  }

  @Override
  public Optional<Set<String>> registeredWorkflows() {
    return Optional.of(Set.copyOf(definitions.keySet()));
  }

  @Override
  public synchronized CompletionStage<RunHandle> submit(Submission submission) {
    Optional<DurableDeployException> refused =
        WorkflowEngine.refusal(status, definitions, submission);
    if (refused.isPresent()) {
      return CompletableFuture.failedFuture(refused.get());
    }
    WorkflowDefinition definition = definitions.get(submission.workflow());
    String idempotencyKey = submission.scopedIdempotencyKey();
    if (idempotencyKey != null && idempotent.containsKey(idempotencyKey)) {
      return CompletableFuture.completedFuture(handle(idempotent.get(idempotencyKey), true));
    }
    Run run;
    boolean deduplicated = false;
    if (definition.debounce() != null) {
      String debounceKey = definition.name() + ":" + definition.keyOf(submission.input());
      Run pending = debouncing.get(debounceKey);
      if (pending != null) {
        pending.input = submission.input();
        run = pending;
        deduplicated = true;
      } else {
        run = newRun(definition, submission.input());
        debouncing.put(debounceKey, run);
      }
      armDebounce(run, debounceKey);
    } else {
      run = newRun(definition, submission.input());
      enqueue(run);
    }
    if (idempotencyKey != null) {
      idempotent.put(idempotencyKey, run);
    }
    return CompletableFuture.completedFuture(handle(run, deduplicated));
  }

  private Run newRun(WorkflowDefinition definition, Map<String, String> input) {
    Run run = new Run(new RunId("run-" + ids.incrementAndGet()), definition, input);
    runs.put(run.id, run);
    return run;
  }

  private static RunHandle handle(Run run, boolean deduplicated) {
    return new RunHandle(run.id, run.definition.name(), deduplicated);
  }

  private void armDebounce(Run run, String debounceKey) {
    if (run.debounceTimer != null) {
      run.debounceTimer.cancel(false);
    }
    long quiet = run.definition.debounce().quiet().toNanos();
    long latest =
        run.firstSubmitNanos + run.definition.debounce().maxDelay().toNanos() - System.nanoTime();
    long delay = Math.max(0, Math.min(quiet, latest));
    run.debounceTimer =
        executor.schedule(
            () -> {
              synchronized (this) {
                if (debouncing.remove(debounceKey, run)) {
                  enqueue(run);
                }
              }
            },
            delay,
            TimeUnit.NANOSECONDS);
  }

  private void enqueue(Run run) {
    if (busyKeys.add(run.queueKey())) {
      executor.execute(() -> attempt(run));
    } else {
      waiting.computeIfAbsent(run.queueKey(), k -> new ArrayDeque<>()).add(run);
    }
  }

  private void attempt(Run run) {
    synchronized (this) {
      run.attempts++;
      run.set(RunState.RUNNING);
    }
    try {
      run.definition.handler().run(context(run));
      synchronized (this) {
        run.set(RunState.SUCCEEDED);
        next(run);
      }
    } catch (Exception | Error failure) {
      synchronized (this) {
        run.lastError =
            Inputs.redactCredentials(
                failure.getClass().getSimpleName() + ": " + failure.getMessage());
        if (status == EngineStatus.RUNNING
            && run.definition.retryPolicy().shouldRetry(run.attempts, failure)) {
          run.set(RunState.RETRYING);
          Duration delay = run.definition.retryPolicy().delayBefore(run.attempts, random);
          executor.schedule(() -> attempt(run), delay.toNanos(), TimeUnit.NANOSECONDS);
        } else {
          run.set(RunState.DEAD_LETTERED);
          deadLetters.put(
              run.id,
              new DeadLetter(
                  run.id,
                  run.definition.name(),
                  run.input,
                  run.key,
                  run.attempts,
                  run.lastError,
                  run.updatedAt));
          next(run);
        }
      }
    }
  }

  /** Hands the key to its next waiting run (a dead letter releases its key too: E5). */
  private void next(Run finished) {
    ArrayDeque<Run> queue = waiting.get(finished.queueKey());
    Run following = queue == null ? null : queue.poll();
    if (following == null) {
      busyKeys.remove(finished.queueKey());
      waiting.remove(finished.queueKey());
    } else {
      executor.execute(() -> attempt(following));
    }
  }

  private RunContext context(Run run) {
    Map<String, String> input;
    int attempt;
    synchronized (this) {
      input = run.input;
      attempt = run.attempts;
    }
    return RunContext.of(
        run.id,
        run.definition.name(),
        input,
        run.key,
        attempt,
        () -> status != EngineStatus.RUNNING);
  }

  @Override
  public synchronized void schedule(CronSchedule schedule) {
    if (schedule.expression().trim().split("\\s+").length != 5) {
      throw new InvalidInputException(
          "cron", "must have five fields: minute hour day month weekday");
    }
    schedules.put(schedule.id(), schedule);
  }

  @Override
  public synchronized boolean unschedule(String scheduleId) {
    return schedules.remove(scheduleId) != null;
  }

  /** Fires a stored schedule now, as its cron time would; for tests. */
  public CompletionStage<RunHandle> fire(String scheduleId) {
    CronSchedule schedule;
    synchronized (this) {
      schedule = schedules.get(scheduleId);
    }
    if (schedule == null) {
      throw new InvalidInputException("scheduleId", "no schedule '" + scheduleId + "'");
    }
    return submit(new Submission(schedule.workflow(), schedule.input(), null));
  }

  @Override
  public synchronized Optional<RunStatus> status(RunId id) {
    return Optional.ofNullable(runs.get(id)).map(Run::status);
  }

  @Override
  public synchronized List<DeadLetter> deadLetters(int limit) {
    return deadLetters.values().stream().limit(limit).toList();
  }

  @Override
  public CompletionStage<RunHandle> retryDeadLetter(RunId id) {
    DeadLetter letter;
    synchronized (this) {
      letter = deadLetters.remove(id);
    }
    if (letter == null) {
      return CompletableFuture.failedFuture(
          new InvalidInputException("runId", "no dead letter '" + id + "'"));
    }
    return submit(new Submission(letter.workflow(), letter.input(), null));
  }

  @Override
  public synchronized boolean discardDeadLetter(RunId id) {
    if (deadLetters.remove(id) == null) {
      return false;
    }
    runs.get(id).set(RunState.DISCARDED);
    return true;
  }

  @Override
  public void start() {
    if (status != EngineStatus.NEW) {
      throw new IllegalStateException("the engine was already started");
    }
    status = EngineStatus.RUNNING;
  }

  @Override
  public void stop(Duration deadline) {
    if (status == EngineStatus.STOPPED) {
      return;
    }
    status = EngineStatus.STOPPING;
    executor.shutdown();
    try {
      if (!executor.awaitTermination(deadline.toNanos(), TimeUnit.NANOSECONDS)) {
        executor.shutdownNow();
      }
    } catch (InterruptedException e) {
      executor.shutdownNow();
      Thread.currentThread().interrupt();
    }
    synchronized (this) {
      runs.values().stream()
          .filter(r -> !r.state.isTerminal())
          .forEach(r -> r.set(RunState.ABANDONED));
    }
    status = EngineStatus.STOPPED;
  }

  @Override
  public EngineStatus engineStatus() {
    return status;
  }

  @Override
  public void close() {
    stop(DEFAULT_STOP_DEADLINE);
  }

  /** Every run's status, for assertions. */
  public synchronized List<RunStatus> allRuns() {
    List<RunStatus> all = new ArrayList<>();
    runs.values().forEach(r -> all.add(r.status()));
    return all;
  }
}
