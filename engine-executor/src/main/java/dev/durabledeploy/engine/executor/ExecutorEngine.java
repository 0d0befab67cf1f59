package dev.durabledeploy.engine.executor;

import dev.durabledeploy.spi.engine.CronSchedule;
import dev.durabledeploy.spi.engine.DeadLetter;
import dev.durabledeploy.spi.engine.EngineStatus;
import dev.durabledeploy.spi.engine.RunHandle;
import dev.durabledeploy.spi.engine.RunId;
import dev.durabledeploy.spi.engine.RunState;
import dev.durabledeploy.spi.engine.RunStatus;
import dev.durabledeploy.spi.engine.Submission;
import dev.durabledeploy.spi.engine.WorkflowDefinition;
import dev.durabledeploy.spi.engine.WorkflowEngine;
import dev.durabledeploy.spi.events.EventBus;
import dev.durabledeploy.spi.events.OperationEvent;
import dev.durabledeploy.spi.exception.DurableDeployException;
import dev.durabledeploy.spi.exception.EngineNotRunningException;
import dev.durabledeploy.spi.exception.EngineUnavailableException;
import dev.durabledeploy.spi.exception.InvalidInputException;
import dev.durabledeploy.spi.health.Health;
import dev.durabledeploy.spi.support.Config;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Consumer;
import java.util.random.RandomGenerator;

/**
 * The in-process {@link WorkflowEngine} on {@code java.util.concurrent}.
 *
 * <ul>
 *   <li><b>Order and fairness.</b> Runs of one concurrency key (scoped per workflow) never overlap
 *       and start in submission order. Keys with work wait in one round-robin queue, so a key with
 *       10,000 queued runs gets one turn per round like a key with one.
 *   <li><b>Retries.</b> A failed attempt is retried per the definition's {@code RetryPolicy}
 *       (full-jitter backoff) while its key waits; exhausted or permanent failures are
 *       dead-lettered, which releases the key (E5). Dead letters can be listed, retried, discarded.
 *   <li><b>Acceptance.</b> The engine keeps nothing on disk, so a submission counts as <i>durably
 *       accepted</i> only when its run has finished (succeeded or dead-lettered): the outbox relay
 *       acknowledges the event then, and a crash before that redelivers it. Debounced workflows are
 *       the exception: a burst must collapse, so they accept at once; a debounced run lost in a
 *       crash is triggered again by the next event of its key.
 *   <li><b>Back-pressure.</b> At most {@code maxQueuedRuns} runs wait; past that a submission fails
 *       with {@link EngineUnavailableException}, which the relay retries later.
 *   <li><b>Cron.</b> Five-field Unix expressions (cron-utils). Missed fires are skipped, never
 *       caught up: after a start or a fire, the next fire is the next matching time after now.
 *   <li><b>Shutdown.</b> {@link #stop} refuses new submissions, hands back queued and waiting runs
 *       ({@link RunState#ABANDONED}, their submissions fail with {@link EngineNotRunningException},
 *       so their events are redelivered), and waits for running attempts up to the deadline before
 *       interrupting them.
 *   <li><b>Threads.</b> Workers are virtual threads on JDK 21+, platform threads otherwise.
 * </ul>
 *
 * <p>This class is the entry point and wires the parts, each one role under the engine's one lock
 * ({@link EngineState}): {@link FairQueue} (order and fairness), {@link ExecuteRuns} (attempts,
 * retries, outcomes), {@link Runs} (status and idempotency), {@link Debouncer}, {@link
 * DeadLetters}, {@link CronSchedules} and {@link WorkerThreads}.
 */
public final class ExecutorEngine implements WorkflowEngine {

  public static final int DEFAULT_MAX_QUEUED_RUNS = 100_000;
  public static final Duration DEFAULT_IDEMPOTENCY_WINDOW = Duration.ofHours(1);
  public static final Duration DEFAULT_STOP_DEADLINE = Duration.ofSeconds(30);

  /** Finished runs whose status stays queryable. */
  public static final int DEFAULT_RETAINED_RUNS = 10_000;

  private final int maxQueuedRuns;
  private final EngineState state = new EngineState();
  private final Map<String, WorkflowDefinition> definitions = new HashMap<>();
  private final WorkerThreads threads;
  private final FairQueue queue = new FairQueue(state);
  private final Runs runs;
  private final Debouncer debouncer;
  private final DeadLetters deadLetters;
  private final CronSchedules cron;
  private final ExecuteRuns execute;

  private ExecutorEngine(Builder b) {
    this.maxQueuedRuns = b.maxQueuedRuns;
    EventBus bus = b.events;
    Consumer<OperationEvent> publish = bus == null ? event -> {} : bus::publish;
    this.threads = new WorkerThreads(b.workers);
    this.runs = new Runs(b.clock, b.random, b.idempotencyWindow, b.retainedRuns);
    this.debouncer = new Debouncer(state, runs, queue, threads);
    this.deadLetters = new DeadLetters(b.clock, publish);
    this.cron = new CronSchedules(state, threads, b.clock, this::submit);
    this.execute =
        new ExecuteRuns(
            state, queue, runs, deadLetters, threads, b.clock, b.random, publish, b.meters);
    Gauge.builder("durable.engine.queue.depth", this, e -> e.queuedRuns())
        .description("workflow runs waiting for a worker or for their key")
        .register(b.meters);
  }

  /** An engine with every default. */
  public ExecutorEngine() {
    this(builder());
  }

  public static Builder builder() {
    return new Builder();
  }

  @Override
  public void register(WorkflowDefinition definition) {
    state.lockedRun(
        () -> {
          if (definitions.putIfAbsent(definition.name(), definition) != null) {
            throw WorkflowEngine.alreadyRegistered(definition);
          }
        });
  }

  @Override
  public Optional<Set<String>> registeredWorkflows() {
    return state.locked(() -> Optional.of(Set.copyOf(definitions.keySet())));
  }

  @Override
  public CompletionStage<RunHandle> submit(Submission submission) {
    return state.locked(() -> enqueue(submission));
  }

  /** Lock held. */
  private CompletionStage<RunHandle> enqueue(Submission submission) {
    Optional<DurableDeployException> refused =
        WorkflowEngine.refusal(state.status(), definitions, submission);
    if (refused.isPresent()) {
      return CompletableFuture.failedFuture(refused.get());
    }
    WorkflowDefinition definition = definitions.get(submission.workflow());
    String idempotencyKey = submission.scopedIdempotencyKey();
    Optional<Run> earlier = runs.earlier(idempotencyKey);
    if (earlier.isPresent()) {
      Run run = earlier.get();
      return run.acceptOnEnqueue
          ? CompletableFuture.completedFuture(run.handle(true))
          : run.done.thenApply(h -> run.handle(true));
    }
    if (definition.debounce() != null) {
      return CompletableFuture.completedFuture(
          debouncer.submit(definition, submission.input(), idempotencyKey));
    }
    if (queue.size() >= maxQueuedRuns) {
      return CompletableFuture.failedFuture(
          new EngineUnavailableException(
              "the workflow engine holds "
                  + queue.size()
                  + " queued runs, its maximum; submit again later"));
    }
    Run run = runs.create(definition, submission.input(), false);
    runs.remember(idempotencyKey, run);
    queue.enqueue(run, false);
    return run.done;
  }

  @Override
  public void schedule(CronSchedule schedule) {
    cron.schedule(schedule);
  }

  @Override
  public boolean unschedule(String scheduleId) {
    return state.locked(() -> cron.unschedule(scheduleId));
  }

  @Override
  public Optional<RunStatus> status(RunId id) {
    return state.locked(() -> runs.find(id).map(Run::status));
  }

  @Override
  public List<DeadLetter> deadLetters(int limit) {
    return state.locked(() -> deadLetters.list(limit));
  }

  /** {@inheritDoc} A retry the engine refuses (stopped, full) leaves the dead letter in place. */
  @Override
  public CompletionStage<RunHandle> retryDeadLetter(RunId id) {
    // Under the lock from lookup to removal, so two callers never retry one letter twice.
    return state.locked(
        () -> {
          Optional<DeadLetter> letter = deadLetters.find(id);
          if (letter.isEmpty()) {
            return CompletableFuture.failedFuture(
                new InvalidInputException("runId", "no dead letter '" + id + "'"));
          }
          CompletableFuture<RunHandle> retried =
              enqueue(new Submission(letter.get().workflow(), letter.get().input(), null))
                  .toCompletableFuture();
          if (!retried.isCompletedExceptionally()) {
            deadLetters.remove(id);
          }
          return retried;
        });
  }

  @Override
  public boolean discardDeadLetter(RunId id) {
    return state.locked(
        () -> {
          if (deadLetters.remove(id) == null) {
            return false;
          }
          runs.finished(id).ifPresent(r -> r.set(RunState.DISCARDED));
          return true;
        });
  }

  /** Runs waiting for a worker or their key (for the queue-depth gauge). */
  public int queuedRuns() {
    return state.locked(queue::size);
  }

  @Override
  public void start() {
    state.lockedRun(
        () -> {
          if (state.status() != EngineStatus.NEW) {
            throw new IllegalStateException(
                "the engine was already started (" + state.status() + ")");
          }
          state.set(EngineStatus.RUNNING);
          threads.start(execute);
          cron.armAll();
        });
  }

  @Override
  public void stop(Duration deadline) {
    boolean wasRunning =
        state.locked(
            () -> {
              if (!state.running()) {
                state.set(EngineStatus.STOPPED);
                return false;
              }
              state.set(EngineStatus.STOPPING);
              cron.cancelAll();
              debouncer.drain();
              queue.drain(Run::abandon);
              for (Run run : runs.live()) {
                if (run.state == RunState.RETRYING) {
                  run.abandon();
                }
              }
              return true;
            });
    if (wasRunning) {
      threads.stop(deadline);
      state.set(EngineStatus.STOPPED);
    }
  }

  @Override
  public EngineStatus engineStatus() {
    return state.status();
  }

  @Override
  public void close() {
    stop(DEFAULT_STOP_DEADLINE);
  }

  /** How many worker threads run attempts. */
  public int workers() {
    return threads.count();
  }

  /** Whether workers are virtual threads (JDK 21+). */
  public boolean usesVirtualThreads() {
    return threads.virtual();
  }

  /** Configures an {@link ExecutorEngine}; every default is a named constant. */
  public static final class Builder {
    private Clock clock = Clock.systemUTC();
    // Drawn from on the worker threads: each thread's own generator, never one shared instance.
    private RandomGenerator random = () -> ThreadLocalRandom.current().nextLong();
    private EventBus events;
    private MeterRegistry meters = new SimpleMeterRegistry();
    private int workers;
    private int maxQueuedRuns = DEFAULT_MAX_QUEUED_RUNS;
    private Duration idempotencyWindow = DEFAULT_IDEMPOTENCY_WINDOW;
    private int retainedRuns = DEFAULT_RETAINED_RUNS;

    private Builder() {}

    public Builder clock(Clock clock) {
      this.clock = Config.require("clock", clock);
      return this;
    }

    /** Randomness of retry jitter and run ids. */
    public Builder random(RandomGenerator random) {
      this.random = Config.require("random", random);
      return this;
    }

    /** Where run lifecycle events go (e.g. {@code DurableDeploy.events()}); none by default. */
    public Builder events(EventBus events) {
      this.events = events;
      return this;
    }

    public Builder meterRegistry(MeterRegistry meters) {
      this.meters = Config.require("meterRegistry", meters);
      return this;
    }

    /** Worker threads; default 64 virtual threads on JDK 21+, else max(4, 2 × cores). */
    public Builder workers(int workers) {
      this.workers = (int) Config.requireAtLeast("workers", workers, 1);
      return this;
    }

    /** Runs that may wait before submissions are refused (back-pressure). */
    public Builder maxQueuedRuns(int maxQueuedRuns) {
      this.maxQueuedRuns = (int) Config.requireAtLeast("maxQueuedRuns", maxQueuedRuns, 1);
      return this;
    }

    /** How long a repeated idempotency key returns the first run. */
    public Builder idempotencyWindow(Duration window) {
      this.idempotencyWindow = Config.requireNotNegative("idempotencyWindow", window);
      return this;
    }

    public Builder retainedRuns(int retainedRuns) {
      this.retainedRuns = (int) Config.requireAtLeast("retainedRuns", retainedRuns, 0);
      return this;
    }

    public ExecutorEngine build() {
      return new ExecutorEngine(this);
    }
  }

  /** Queue depth at or above which {@link #health()} reports DEGRADED: 90% of the maximum. */
  static final double QUEUE_DEGRADED_FRACTION = 0.9;

  /**
   * The engine's state, its queue depth against {@code maxQueuedRuns}, its workers and dead
   * letters. DOWN unless {@code RUNNING}; DEGRADED once the queue holds 90% of {@code
   * maxQueuedRuns}: submissions are about to be refused ({@code EngineUnavailableException}), so
   * the relay's events wait.
   */
  @Override
  public Health health() {
    EngineStatus status = engineStatus();
    int depth = queuedRuns();
    Map<String, Object> details = new java.util.LinkedHashMap<>();
    details.put("state", status.name());
    details.put("queueDepth", depth);
    details.put("maxQueuedRuns", maxQueuedRuns);
    details.put("workers", workers());
    details.put("deadLetters", state.locked(deadLetters::size));
    if (status != EngineStatus.RUNNING) {
      return Health.down(details);
    }
    if (depth >= maxQueuedRuns * QUEUE_DEGRADED_FRACTION) {
      details.put(
          "reason",
          depth
              + " runs queued of at most "
              + maxQueuedRuns
              + ": submissions will soon be refused");
      return Health.degraded(details);
    }
    return Health.up(details);
  }
}
