package dev.durabledeploy.engine.executor;

import com.cronutils.model.Cron;
import com.cronutils.model.CronType;
import com.cronutils.model.definition.CronDefinitionBuilder;
import com.cronutils.model.time.ExecutionTime;
import com.cronutils.parser.CronParser;
import dev.durabledeploy.spi.ConfigurationException;
import dev.durabledeploy.spi.DurableDeployException;
import dev.durabledeploy.spi.Inputs;
import dev.durabledeploy.spi.InvalidInputException;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.TransientStoreException;
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
import dev.durabledeploy.spi.events.EventBus;
import dev.durabledeploy.spi.events.OperationEvent;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZonedDateTime;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.random.RandomGenerator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

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
 *       with {@link TransientStoreException}, which the relay retries later.
 *   <li><b>Cron.</b> Five-field Unix expressions (cron-utils). Missed fires are skipped, never
 *       caught up: after a start or a fire, the next fire is the next matching time after now.
 *   <li><b>Shutdown.</b> {@link #stop} refuses new submissions, hands back queued and waiting runs
 *       ({@link RunState#ABANDONED}, their submissions fail, so their events are redelivered), and
 *       waits for running attempts up to the deadline before interrupting them.
 *   <li><b>Threads.</b> Workers are virtual threads on JDK 21+, platform threads otherwise.
 * </ul>
 */
public final class ExecutorEngine implements WorkflowEngine {

  public static final int DEFAULT_MAX_QUEUED_RUNS = 100_000;
  public static final Duration DEFAULT_IDEMPOTENCY_WINDOW = Duration.ofHours(1);
  public static final Duration DEFAULT_STOP_DEADLINE = Duration.ofSeconds(30);

  /** Finished runs whose status stays queryable. */
  public static final int DEFAULT_RETAINED_RUNS = 10_000;

  private static final Logger LOG = LoggerFactory.getLogger(ExecutorEngine.class);
  private static final CronParser CRON =
      new CronParser(CronDefinitionBuilder.instanceDefinitionFor(CronType.UNIX));

  private final Clock clock;
  private final RandomGenerator random;
  private final EventBus events;
  private final MeterRegistry meters;
  private final int workerCount;
  private final int maxQueuedRuns;
  private final Duration idempotencyWindow;
  private final int retainedRuns;
  private final ThreadFactory workerFactory;
  private final boolean virtualWorkers;

  // Lock: the engine's one lock, guarding every map below; it serialises scheduling decisions
  // (which key runs next) so per-key order and round-robin fairness hold. Never held while a
  // handler runs.
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition workAvailable = lock.newCondition();
  private final Map<String, WorkflowDefinition> definitions = new HashMap<>();
  private final Map<String, KeyQueue> keys = new HashMap<>();
  private final ArrayDeque<KeyQueue> ready = new ArrayDeque<>();
  private final Map<RunId, Run> live = new HashMap<>();
  private final LinkedHashMap<RunId, Run> finished = new LinkedHashMap<>();
  private final Map<String, Run> idempotent = new HashMap<>();
  private final Map<String, Run> debouncing = new HashMap<>();
  private final LinkedHashMap<RunId, DeadLetter> deadLetters = new LinkedHashMap<>();
  private final Map<String, CronSchedule> schedules = new HashMap<>();
  private final Map<String, ScheduledFuture<?>> cronTimers = new HashMap<>();
  private final List<Thread> workers = new ArrayList<>();
  private final AtomicLong ids = new AtomicLong();
  private final String idPrefix;
  private ScheduledExecutorService timer;
  private int queued;
  private volatile EngineStatus status = EngineStatus.NEW;

  private final Counter retries;
  // Meter lookups are not free; one timer per (workflow, outcome), created on first use.
  private final java.util.concurrent.ConcurrentHashMap<String, Timer> timers =
      new java.util.concurrent.ConcurrentHashMap<>();

  private ExecutorEngine(Builder b) {
    this.clock = b.clock;
    this.random = b.random;
    this.events = b.events;
    this.meters = b.meters;
    this.virtualWorkers = VIRTUAL_THREADS != null;
    this.workerFactory = virtualWorkers ? VIRTUAL_THREADS : platformThreads();
    this.workerCount = b.workers > 0 ? b.workers : defaultWorkers(virtualWorkers);
    this.maxQueuedRuns = b.maxQueuedRuns;
    this.idempotencyWindow = b.idempotencyWindow;
    this.retainedRuns = b.retainedRuns;
    this.idPrefix = String.format(Locale.ROOT, "run-%06x-", b.random.nextInt(1 << 24));
    Gauge.builder("durable.engine.queue.depth", this, e -> e.queuedRuns())
        .description("workflow runs waiting for a worker or for their key")
        .register(meters);
    this.retries =
        Counter.builder("durable.engine.retries")
            .description("workflow attempts that failed and were retried")
            .register(meters);
  }

  /** An engine with every default. */
  public ExecutorEngine() {
    this(builder());
  }

  public static Builder builder() {
    return new Builder();
  }

  // ---- runs --------------------------------------------------------------------------------

  private final class KeyQueue {
    final String name;
    final ArrayDeque<Run> runs = new ArrayDeque<>();
    boolean busy;
    boolean inReady;

    KeyQueue(String name) {
      this.name = name;
    }
  }

  private final class Run {
    final RunId id;
    final WorkflowDefinition definition;
    final String key;
    final boolean acceptOnEnqueue;
    final String queueKey;
    final CompletableFuture<RunHandle> done = new CompletableFuture<>();
    final long firstSubmitNanos = System.nanoTime();
    final Instant submittedAt = clock.instant();
    Map<String, String> input;
    int attempts;
    RunState state = RunState.QUEUED;
    String lastError;
    Instant updatedAt = clock.instant();
    Thread runner;
    ScheduledFuture<?> timer;

    Run(WorkflowDefinition definition, Map<String, String> input, boolean acceptOnEnqueue) {
      this.id = new RunId(idPrefix + ids.incrementAndGet());
      this.definition = definition;
      this.input = input;
      this.key = definition.keyOf(input);
      this.queueKey = definition.name() + ":" + key;
      this.acceptOnEnqueue = acceptOnEnqueue;
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

    SiteId site() {
      String value = input.get("site");
      try {
        return value == null ? null : SiteId.of(value);
      } catch (InvalidInputException notASite) {
        return null;
      }
    }
  }

  // ---- registration and submission -----------------------------------------------------------

  @Override
  public void register(WorkflowDefinition definition) {
    lock.lock();
    try {
      if (definitions.putIfAbsent(definition.name(), definition) != null) {
        throw WorkflowEngine.alreadyRegistered(definition);
      }
    } finally {
      lock.unlock();
    }
  }

  @Override
  public Optional<Set<String>> registeredWorkflows() {
    lock.lock();
    try {
      return Optional.of(Set.copyOf(definitions.keySet()));
    } finally {
      lock.unlock();
    }
  }

  @Override
  public CompletionStage<RunHandle> submit(Submission submission) {
    lock.lock();
    try {
      Optional<DurableDeployException> refused =
          WorkflowEngine.refusal(status, definitions, submission);
      if (refused.isPresent()) {
        return CompletableFuture.failedFuture(refused.get());
      }
      WorkflowDefinition definition = definitions.get(submission.workflow());
      String idempotencyKey = submission.scopedIdempotencyKey();
      if (idempotencyKey != null) {
        Run earlier = idempotent.get(idempotencyKey);
        if (earlier != null
            && Duration.between(earlier.submittedAt, clock.instant()).compareTo(idempotencyWindow)
                < 0) {
          return earlier.acceptOnEnqueue
              ? CompletableFuture.completedFuture(earlier.handle(true))
              : earlier.done.thenApply(h -> earlier.handle(true));
        }
      }
      Run run;
      if (definition.debounce() != null) {
        String debounceKey = definition.name() + ":" + definition.keyOf(submission.input());
        Run pending = debouncing.get(debounceKey);
        boolean deduplicated = pending != null;
        if (pending != null) {
          pending.input = submission.input();
          run = pending;
        } else {
          run = new Run(definition, submission.input(), true);
          live.put(run.id, run);
          debouncing.put(debounceKey, run);
        }
        armDebounce(run, debounceKey);
        remember(idempotencyKey, run);
        return CompletableFuture.completedFuture(run.handle(deduplicated));
      }
      if (queued >= maxQueuedRuns) {
        return CompletableFuture.failedFuture(
            new TransientStoreException(
                "the workflow engine holds "
                    + queued
                    + " queued runs, its maximum; submit again later"));
      }
      run = new Run(definition, submission.input(), false);
      live.put(run.id, run);
      remember(idempotencyKey, run);
      enqueue(run, false);
      return run.done;
    } finally {
      lock.unlock();
    }
  }

  private void remember(String idempotencyKey, Run run) {
    if (idempotencyKey == null) {
      return;
    }
    idempotent.put(idempotencyKey, run);
    if (idempotent.size() % 1024 == 0) {
      Instant cutoff = clock.instant().minus(idempotencyWindow);
      idempotent.values().removeIf(r -> r.submittedAt.isBefore(cutoff));
    }
  }

  private void armDebounce(Run run, String debounceKey) {
    if (run.timer != null) {
      run.timer.cancel(false);
    }
    long quiet = run.definition.debounce().quiet().toNanos();
    long latest =
        run.firstSubmitNanos + run.definition.debounce().maxDelay().toNanos() - System.nanoTime();
    run.timer =
        timer.schedule(
            () -> {
              lock.lock();
              try {
                if (status == EngineStatus.RUNNING && debouncing.remove(debounceKey, run)) {
                  enqueue(run, false);
                }
              } finally {
                lock.unlock();
              }
            },
            Math.max(0, Math.min(quiet, latest)),
            TimeUnit.NANOSECONDS);
  }

  /** Queues a run behind its key (a retry goes back to the front). Lock held. */
  private void enqueue(Run run, boolean front) {
    KeyQueue key = keys.computeIfAbsent(run.queueKey, KeyQueue::new);
    if (front) {
      key.runs.addFirst(run);
    } else {
      key.runs.addLast(run);
    }
    queued++;
    markReady(key);
  }

  private void markReady(KeyQueue key) {
    if (!key.busy && !key.inReady && !key.runs.isEmpty()) {
      key.inReady = true;
      ready.addLast(key);
      workAvailable.signal();
    } else if (!key.busy && key.runs.isEmpty()) {
      keys.remove(key.name);
    }
  }

  // ---- workers -------------------------------------------------------------------------------

  private void work() {
    while (true) {
      Run run;
      RunContext context;
      lock.lock();
      try {
        while (ready.isEmpty() && status == EngineStatus.RUNNING) {
          workAvailable.awaitUninterruptibly();
        }
        if (ready.isEmpty()) {
          return;
        }
        KeyQueue key = ready.pollFirst();
        key.inReady = false;
        run = key.runs.pollFirst();
        queued--;
        key.busy = true;
        run.attempts++;
        run.set(RunState.RUNNING);
        run.runner = Thread.currentThread();
        context = context(run, run.input, run.attempts);
      } finally {
        lock.unlock();
      }
      attempt(run, context);
    }
  }

  private void attempt(Run run, RunContext context) {
    long start = System.nanoTime();
    if (run.attempts == 1) {
      publish(
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
    lock.lock();
    try {
      run.runner = null;
      if (failure == null) {
        run.set(RunState.SUCCEEDED);
        finish(run, "success", took);
        publish(
            new OperationEvent.Succeeded(
                run.id.value(), run.definition.name(), run.site(), took, "", clock.instant()));
        run.done.complete(run.handle(false));
      } else {
        run.lastError =
            Inputs.redactCredentials(
                failure.getClass().getSimpleName() + ": " + failure.getMessage());
        if (status != EngineStatus.RUNNING) {
          abandon(run);
          finish(run, "abandoned", took);
        } else if (run.definition.retryPolicy().shouldRetry(run.attempts, failure)) {
          scheduleRetry(run);
        } else {
          deadLetter(run);
          finish(run, "dead_letter", took);
        }
      }
    } finally {
      lock.unlock();
    }
  }

  private void scheduleRetry(Run run) {
    run.set(RunState.RETRYING);
    Duration delay = run.definition.retryPolicy().delayBefore(run.attempts, random);
    retries.increment();
    publish(
        new OperationEvent.Retrying(
            run.id.value(),
            run.definition.name(),
            run.site(),
            run.attempts + 1,
            delay,
            run.lastError,
            clock.instant()));
    // The key stays busy while the run waits, so nothing of the key overtakes it.
    run.timer =
        timer.schedule(
            () -> {
              lock.lock();
              try {
                if (run.state != RunState.RETRYING) {
                  return;
                }
                KeyQueue key = keys.get(run.queueKey);
                key.busy = false;
                run.set(RunState.QUEUED);
                enqueue(run, true);
              } finally {
                lock.unlock();
              }
            },
            delay.toNanos(),
            TimeUnit.NANOSECONDS);
  }

  private void deadLetter(Run run) {
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
    LOG.warn(
        "workflow {} run {} dead-lettered after {} attempt(s): {}",
        run.definition.name(),
        run.id,
        run.attempts,
        run.lastError);
    publish(
        new OperationEvent.DeadLettered(
            run.id.value(),
            run.definition.name(),
            run.site(),
            run.attempts,
            run.lastError,
            clock.instant()));
    // A dead letter is an outcome: the event was handled, and the key moves on (E5).
    run.done.complete(run.handle(false));
  }

  private void abandon(Run run) {
    run.set(RunState.ABANDONED);
    if (run.timer != null) {
      run.timer.cancel(false);
    }
    run.done.completeExceptionally(
        new DurableDeployException(
            "workflow run " + run.id + " was handed back: the engine stopped before it finished"));
  }

  /** Releases the run's key and moves the run to the retained finished runs. Lock held. */
  private void finish(Run run, String outcome, Duration took) {
    KeyQueue key = keys.get(run.queueKey);
    if (key != null) {
      key.busy = false;
      markReady(key);
    }
    live.remove(run.id);
    finished.put(run.id, run);
    if (finished.size() > retainedRuns) {
      Iterator<RunId> oldest = finished.keySet().iterator();
      oldest.next();
      oldest.remove();
    }
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

  private RunContext context(Run run, Map<String, String> input, int attempt) {
    return RunContext.of(
        run.id,
        run.definition.name(),
        input,
        run.key,
        attempt,
        () -> status != EngineStatus.RUNNING);
  }

  private void publish(OperationEvent event) {
    if (events != null) {
      events.publish(event);
    }
  }

  // ---- cron ----------------------------------------------------------------------------------

  @Override
  public void schedule(CronSchedule schedule) {
    Cron cron;
    try {
      cron = CRON.parse(schedule.expression()).validate();
    } catch (IllegalArgumentException e) {
      throw new InvalidInputException(
          "cron",
          "'"
              + schedule.expression()
              + "' is not a five-field Unix cron expression: "
              + e.getMessage());
    }
    lock.lock();
    try {
      schedules.put(schedule.id(), schedule);
      if (status == EngineStatus.RUNNING) {
        armCron(schedule, ExecutionTime.forCron(cron));
      }
    } finally {
      lock.unlock();
    }
  }

  private void armCron(CronSchedule schedule, ExecutionTime times) {
    Optional.ofNullable(cronTimers.remove(schedule.id())).ifPresent(f -> f.cancel(false));
    ZonedDateTime now = ZonedDateTime.ofInstant(clock.instant(), schedule.zone());
    Optional<ZonedDateTime> next = times.nextExecution(now);
    if (next.isEmpty()) {
      return;
    }
    long delay = Math.max(0, Duration.between(now, next.get()).toNanos());
    cronTimers.put(
        schedule.id(),
        timer.schedule(
            () -> {
              submit(new Submission(schedule.workflow(), schedule.input(), null))
                  .whenComplete(
                      (h, e) -> {
                        if (e != null) {
                          LOG.warn(
                              "cron schedule {} could not submit: {}", schedule.id(), e.toString());
                        }
                      });
              lock.lock();
              try {
                if (status == EngineStatus.RUNNING && schedules.get(schedule.id()) == schedule) {
                  armCron(schedule, times);
                }
              } finally {
                lock.unlock();
              }
            },
            delay,
            TimeUnit.NANOSECONDS));
  }

  @Override
  public boolean unschedule(String scheduleId) {
    lock.lock();
    try {
      Optional.ofNullable(cronTimers.remove(scheduleId)).ifPresent(f -> f.cancel(false));
      return schedules.remove(scheduleId) != null;
    } finally {
      lock.unlock();
    }
  }

  // ---- queries and dead letters --------------------------------------------------------------

  @Override
  public Optional<RunStatus> status(RunId id) {
    lock.lock();
    try {
      Run run = live.getOrDefault(id, finished.get(id));
      return Optional.ofNullable(run).map(Run::status);
    } finally {
      lock.unlock();
    }
  }

  @Override
  public List<DeadLetter> deadLetters(int limit) {
    lock.lock();
    try {
      return deadLetters.values().stream().limit(limit).toList();
    } finally {
      lock.unlock();
    }
  }

  @Override
  public CompletionStage<RunHandle> retryDeadLetter(RunId id) {
    DeadLetter letter;
    lock.lock();
    try {
      letter = deadLetters.remove(id);
    } finally {
      lock.unlock();
    }
    if (letter == null) {
      return CompletableFuture.failedFuture(
          new InvalidInputException("runId", "no dead letter '" + id + "'"));
    }
    return submit(new Submission(letter.workflow(), letter.input(), null));
  }

  @Override
  public boolean discardDeadLetter(RunId id) {
    lock.lock();
    try {
      if (deadLetters.remove(id) == null) {
        return false;
      }
      Optional.ofNullable(finished.get(id)).ifPresent(r -> r.set(RunState.DISCARDED));
      return true;
    } finally {
      lock.unlock();
    }
  }

  /** Runs waiting for a worker or their key (for the queue-depth gauge). */
  public int queuedRuns() {
    lock.lock();
    try {
      return queued;
    } finally {
      lock.unlock();
    }
  }

  // ---- lifecycle -----------------------------------------------------------------------------

  @Override
  public void start() {
    lock.lock();
    try {
      if (status != EngineStatus.NEW) {
        throw new IllegalStateException("the engine was already started (" + status + ")");
      }
      timer =
          Executors.newSingleThreadScheduledExecutor(
              r -> {
                Thread t = new Thread(r, "durable-engine-timer");
                t.setDaemon(true);
                return t;
              });
      status = EngineStatus.RUNNING;
      for (int i = 0; i < workerCount; i++) {
        Thread worker = workerFactory.newThread(this::work);
        workers.add(worker);
        worker.start();
      }
      for (CronSchedule schedule : schedules.values()) {
        armCron(schedule, ExecutionTime.forCron(CRON.parse(schedule.expression())));
      }
    } finally {
      lock.unlock();
    }
  }

  @Override
  public void stop(Duration deadline) {
    lock.lock();
    try {
      if (status != EngineStatus.RUNNING) {
        status = EngineStatus.STOPPED;
        return;
      }
      status = EngineStatus.STOPPING;
      cronTimers.values().forEach(f -> f.cancel(false));
      cronTimers.clear();
      if (!debouncing.isEmpty()) {
        LOG.info(
            "{} debounced runs dropped at shutdown; the next event of their key re-triggers them",
            debouncing.size());
      }
      debouncing.values().forEach(this::abandon);
      debouncing.clear();
      for (KeyQueue key : keys.values()) {
        key.runs.forEach(this::abandon);
        queued -= key.runs.size();
        key.runs.clear();
      }
      for (Run run : List.copyOf(live.values())) {
        if (run.state == RunState.RETRYING) {
          abandon(run);
        }
      }
      ready.clear();
      workAvailable.signalAll();
    } finally {
      lock.unlock();
    }
    long until = System.nanoTime() + deadline.toNanos();
    for (Thread worker : workers) {
      joinUntil(worker, until);
    }
    for (Thread worker : workers) {
      if (worker.isAlive()) {
        worker.interrupt();
        joinUntil(worker, System.nanoTime() + TimeUnit.SECONDS.toNanos(5));
      }
    }
    timer.shutdownNow();
    status = EngineStatus.STOPPED;
  }

  private static void joinUntil(Thread thread, long untilNanos) {
    long remaining = untilNanos - System.nanoTime();
    try {
      if (remaining > 0) {
        TimeUnit.NANOSECONDS.timedJoin(thread, remaining);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public EngineStatus engineStatus() {
    return status;
  }

  @Override
  public void close() {
    stop(DEFAULT_STOP_DEADLINE);
  }

  /** How many worker threads run attempts. */
  public int workers() {
    return workerCount;
  }

  // ---- threads -------------------------------------------------------------------------------

  /**
   * A factory of virtual threads when the JVM has them, else null. The library targets Java 17, so
   * the JDK 21 API is looked up at run time, once.
   */
  private static final ThreadFactory VIRTUAL_THREADS = virtualThreads();

  private static ThreadFactory virtualThreads() {
    try {
      Object builder = Thread.class.getMethod("ofVirtual").invoke(null);
      Class<?> builderType = Class.forName("java.lang.Thread$Builder");
      builder =
          builderType
              .getMethod("name", String.class, long.class)
              .invoke(builder, "durable-engine-", 0L);
      return (ThreadFactory) builderType.getMethod("factory").invoke(builder);
    } catch (ReflectiveOperationException | RuntimeException notAvailable) {
      return null;
    }
  }

  private static ThreadFactory platformThreads() {
    AtomicLong n = new AtomicLong();
    return r -> {
      Thread t = new Thread(r, "durable-engine-" + n.getAndIncrement());
      t.setDaemon(true);
      return t;
    };
  }

  /** Whether workers are virtual threads (JDK 21+). */
  public boolean usesVirtualThreads() {
    return virtualWorkers;
  }

  private static int defaultWorkers(boolean virtual) {
    int cores = Runtime.getRuntime().availableProcessors();
    return virtual ? 64 : Math.max(4, 2 * cores);
  }

  /** Configures an {@link ExecutorEngine}; every default is a named constant. */
  public static final class Builder {
    private Clock clock = Clock.systemUTC();
    // Drawn from on the worker threads: each thread's own generator, never one shared instance.
    private RandomGenerator random =
        () -> java.util.concurrent.ThreadLocalRandom.current().nextLong();
    private EventBus events;
    private MeterRegistry meters = new SimpleMeterRegistry();
    private int workers;
    private int maxQueuedRuns = DEFAULT_MAX_QUEUED_RUNS;
    private Duration idempotencyWindow = DEFAULT_IDEMPOTENCY_WINDOW;
    private int retainedRuns = DEFAULT_RETAINED_RUNS;

    private Builder() {}

    public Builder clock(Clock clock) {
      this.clock = clock;
      return this;
    }

    /** Randomness of retry jitter and run ids. */
    public Builder random(RandomGenerator random) {
      this.random = random;
      return this;
    }

    /** Where run lifecycle events go (e.g. {@code DurableDeploy.events()}); none by default. */
    public Builder events(EventBus events) {
      this.events = events;
      return this;
    }

    public Builder meterRegistry(MeterRegistry meters) {
      this.meters = meters;
      return this;
    }

    /** Worker threads; default 64 virtual threads on JDK 21+, else max(4, 2 × cores). */
    public Builder workers(int workers) {
      if (workers < 1) {
        throw new ConfigurationException("workers", "must be at least 1");
      }
      this.workers = workers;
      return this;
    }

    /** Runs that may wait before submissions are refused (back-pressure). */
    public Builder maxQueuedRuns(int maxQueuedRuns) {
      if (maxQueuedRuns < 1) {
        throw new ConfigurationException("maxQueuedRuns", "must be at least 1");
      }
      this.maxQueuedRuns = maxQueuedRuns;
      return this;
    }

    /** How long a repeated idempotency key returns the first run. */
    public Builder idempotencyWindow(Duration window) {
      if (window == null || window.isNegative()) {
        throw new ConfigurationException("idempotencyWindow", "must be zero or positive");
      }
      this.idempotencyWindow = window;
      return this;
    }

    public Builder retainedRuns(int retainedRuns) {
      if (retainedRuns < 0) {
        throw new ConfigurationException("retainedRuns", "must not be negative");
      }
      this.retainedRuns = retainedRuns;
      return this;
    }

    public ExecutorEngine build() {
      return new ExecutorEngine(this);
    }
  }
}
