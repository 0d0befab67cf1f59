package dev.durabledeploy.engine.temporal;

import static dev.durabledeploy.engine.temporal.Errors.describe;

import dev.durabledeploy.spi.engine.CronSchedule;
import dev.durabledeploy.spi.engine.DeadLetter;
import dev.durabledeploy.spi.engine.EngineStatus;
import dev.durabledeploy.spi.engine.RunHandle;
import dev.durabledeploy.spi.engine.RunId;
import dev.durabledeploy.spi.engine.RunStatus;
import dev.durabledeploy.spi.engine.Submission;
import dev.durabledeploy.spi.engine.WorkflowDefinition;
import dev.durabledeploy.spi.engine.WorkflowEngine;
import dev.durabledeploy.spi.exception.ConfigurationException;
import dev.durabledeploy.spi.exception.DurableDeployException;
import dev.durabledeploy.spi.exception.EngineUnavailableException;
import dev.durabledeploy.spi.support.Config;
import dev.durabledeploy.spi.support.Threads;
import io.temporal.client.WorkflowClient;
import io.temporal.serviceclient.WorkflowServiceStubs;
import io.temporal.worker.Worker;
import io.temporal.worker.WorkerFactory;
import io.temporal.worker.WorkerFactoryOptions;
import io.temporal.worker.WorkerOptions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The {@link WorkflowEngine} on <a href="https://temporal.io">Temporal</a>, for hosts that run many
 * instances and want durable workflow history, retries and visibility from an existing engine. It
 * passes the same engine TCK as the in-process {@code ExecutorEngine}; a host swaps one for the
 * other and nothing else changes.
 *
 * <ul>
 *   <li><b>One Temporal workflow per concurrency key.</b> Runs of a library workflow that share a
 *       key go to the Temporal workflow {@code <prefix>/<workflow>/<key>} ({@link KeyWorkflow}),
 *       which runs them one at a time, in submission order, each as an activity. Keys are separate
 *       Temporal workflows, so a key with 10,000 queued runs never delays another. A key workflow
 *       completes after {@link Builder#keyIdleTimeout} without work and continues as new before its
 *       history grows long, carrying its queue and its recent outcomes.
 *   <li><b>Acceptance.</b> A submission is an update-with-start of the key workflow: its stage
 *       completes once Temporal has recorded the run, which is when the outbox relay acknowledges
 *       the event (E3). Submissions of one key are sent one after another, so they keep their
 *       order; different keys go in parallel.
 *   <li><b>Idempotency.</b> A submission's idempotency key (scoped to its workflow) becomes its run
 *       id, and the key workflow answers a run id it already knows with that run. The window is the
 *       key workflow's memory: its last {@link Builder#retainedRuns} finished runs, while it lives.
 *   <li><b>Retries.</b> The definition's {@code RetryPolicy} becomes the activity's Temporal retry
 *       options (attempts, initial and maximum interval, multiplier; Temporal's backoff has no
 *       jitter). A failure the policy calls permanent is a non-retryable failure. A run whose
 *       attempts are exhausted is recorded in a dead-letter registry workflow ({@link
 *       DeadLetterWorkflow}) and its key moves on (E5).
 *   <li><b>Debounce.</b> The key workflow keeps a debounced run pending until no submission came
 *       for the quiet period (at most the max delay after the first); later submissions replace its
 *       input and get its run id back. A submission that arrives after the run started starts the
 *       next burst.
 *   <li><b>Cron.</b> Each {@link CronSchedule} is a Temporal cron workflow ({@link CronWorkflow})
 *       whose fires submit the workflow like any other submission. Schedules live in Temporal: they
 *       fire while any engine's worker polls the task queue, also when this engine is stopped.
 *   <li><b>Workers die.</b> Handlers heartbeat while they run; a run whose worker dies or stops is
 *       retried on another worker after {@link Builder#heartbeatTimeout} (it counts as an attempt).
 *       {@link #stop} waits for running handlers up to its deadline, then interrupts them; their
 *       runs stay in Temporal and resume on the next worker, so they are never reported SUCCEEDED
 *       here.
 *   <li><b>Status.</b> {@link #status} queries the key workflow, which a worker on the task queue
 *       answers; a stopped engine answers nothing.
 *   <li><b>Failures.</b> When Temporal cannot be reached or no worker answers in time, calls fail
 *       with {@link EngineUnavailableException} (transient) saying what to check; a stopped engine
 *       refuses with {@link dev.durabledeploy.spi.exception.EngineNotRunningException}.
 * </ul>
 *
 * <p>This class is the entry point and builder; each role is a package-private part: {@link
 * Connection} (connecting and checking the namespace), {@link Submitter} with {@link KeyLanes}
 * (update-with-start, one lane per key), {@link Activities}, {@link Schedules}, {@link
 * DeadLetters}, {@link RunStatuses}, {@link BoundedCalls} (queries with a timeout) and {@link
 * WorkflowIds} (id formats).
 */
public final class TemporalEngine implements WorkflowEngine {

  public static final String DEFAULT_TASK_QUEUE = "durable-deploy";
  public static final String DEFAULT_PREFIX = "durable-deploy";
  public static final String DEFAULT_NAMESPACE = "default";
  public static final Duration DEFAULT_STOP_DEADLINE = Duration.ofSeconds(30);
  public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(10);
  public static final Duration DEFAULT_RUN_TIMEOUT = Duration.ofHours(1);
  public static final Duration DEFAULT_HEARTBEAT_TIMEOUT = Duration.ofSeconds(30);
  public static final Duration DEFAULT_KEY_IDLE_TIMEOUT = Duration.ofMinutes(10);
  public static final Duration DEFAULT_QUERY_TIMEOUT = Duration.ofSeconds(10);
  public static final int DEFAULT_RETAINED_RUNS = 1_000;
  public static final int DEFAULT_SUBMIT_THREADS = 16;

  /** How long handlers interrupted at the stop deadline get to notice. */
  private static final Duration INTERRUPT_GRACE = Duration.ofSeconds(10);

  private final WorkflowServiceStubs ownedStubs;
  private final String target;
  private final WorkerFactory factory;
  private final Map<String, WorkflowDefinition> definitions = new ConcurrentHashMap<>();
  private final KeyLanes lanes;
  private final Submitter submitter;
  private final BoundedCalls calls;
  private final Schedules schedules;
  private final DeadLetters deadLetters;
  private final RunStatuses statuses;
  private final ScheduledExecutorService heartbeats =
      Executors.newSingleThreadScheduledExecutor(Threads.daemon("temporal-heartbeat"));
  private volatile EngineStatus status = EngineStatus.NEW;

  private TemporalEngine(Builder b, WorkflowClient client, WorkflowServiceStubs ownedStubs) {
    this.ownedStubs = ownedStubs;
    this.target = b.target;
    WorkflowIds ids = new WorkflowIds(b.prefix);
    this.lanes = new KeyLanes(b.submitThreads);
    this.submitter =
        new Submitter(
            client,
            b.taskQueue,
            b.target,
            ids,
            lanes,
            new Submitter.KeyTimes(
                b.runTimeout, b.heartbeatTimeout, b.keyIdleTimeout, b.retainedRuns, b.historyLimit),
            () -> status);
    this.calls = new BoundedCalls(b.queryTimeout, b.taskQueue, () -> status);
    this.schedules = new Schedules(client, b.taskQueue, ids);
    this.deadLetters = new DeadLetters(client, b.taskQueue, ids, calls, this::submit);
    this.statuses = new RunStatuses(client, ids, calls);
    this.factory = WorkerFactory.newInstance(client, b.factoryOptions);
    Worker worker = factory.newWorker(b.taskQueue, b.workerOptions);
    worker.registerWorkflowImplementationTypes(
        KeyWorkflowImpl.class, DeadLetterWorkflowImpl.class, CronWorkflowImpl.class);
    worker.registerActivitiesImplementations(
        new Activities(
            definitions,
            heartbeats,
            b.heartbeatTimeout,
            () -> status != EngineStatus.RUNNING,
            deadLetters,
            this::submit));
  }

  public static Builder builder() {
    return new Builder();
  }

  @Override
  public void register(WorkflowDefinition definition) {
    Objects.requireNonNull(definition, "definition");
    if (definitions.putIfAbsent(definition.name(), definition) != null) {
      throw WorkflowEngine.alreadyRegistered(definition);
    }
  }

  @Override
  public Optional<Set<String>> registeredWorkflows() {
    return Optional.of(Set.copyOf(definitions.keySet()));
  }

  @Override
  public CompletionStage<RunHandle> submit(Submission submission) {
    Objects.requireNonNull(submission, "submission");
    Optional<DurableDeployException> refused = refusal(submission);
    if (refused.isPresent()) {
      return CompletableFuture.failedFuture(refused.get());
    }
    return submitter.submit(
        definitions.get(submission.workflow()), submission, () -> refusal(submission));
  }

  private Optional<DurableDeployException> refusal(Submission submission) {
    return WorkflowEngine.refusal(status, definitions, submission);
  }

  @Override
  public void schedule(CronSchedule schedule) {
    schedules.schedule(Objects.requireNonNull(schedule, "schedule"));
  }

  @Override
  public boolean unschedule(String scheduleId) {
    return schedules.unschedule(scheduleId);
  }

  @Override
  public Optional<RunStatus> status(RunId id) {
    Objects.requireNonNull(id, "id");
    return status == EngineStatus.RUNNING ? statuses.of(id) : Optional.empty();
  }

  @Override
  public List<DeadLetter> deadLetters(int limit) {
    return deadLetters.list(limit);
  }

  @Override
  public CompletionStage<RunHandle> retryDeadLetter(RunId id) {
    return deadLetters.retry(Objects.requireNonNull(id, "id"));
  }

  @Override
  public boolean discardDeadLetter(RunId id) {
    return deadLetters.discard(Objects.requireNonNull(id, "id"));
  }

  /**
   * Starts this engine's worker on the task queue.
   *
   * @throws EngineUnavailableException when the worker cannot reach Temporal; the engine stays
   *     {@code NEW} and may be started again
   */
  @Override
  public synchronized void start() {
    if (status != EngineStatus.NEW) {
      throw new IllegalStateException("the engine is " + status + "; start it once");
    }
    try {
      factory.start();
    } catch (RuntimeException e) {
      throw new EngineUnavailableException(
          "the Temporal worker could not start: "
              + describe(e)
              + "; check that the Temporal frontend"
              + (target == null ? "" : " at " + target)
              + " is reachable",
          e);
    }
    status = EngineStatus.RUNNING;
  }

  /**
   * Stops polling, waits up to {@code deadline} for running handlers and then interrupts them
   * (their runs resume on another worker); submissions and calls still under way get what is left
   * of the deadline before they are cut short and fail with {@link
   * dev.durabledeploy.spi.exception.EngineNotRunningException}.
   */
  @Override
  public synchronized void stop(Duration deadline) {
    if (status == EngineStatus.STOPPED || status == EngineStatus.STOPPING) {
      return;
    }
    boolean wasRunning = status == EngineStatus.RUNNING;
    status = EngineStatus.STOPPING;
    long until = System.nanoTime() + deadline.toNanos();
    if (wasRunning) {
      factory.suspendPolling();
      factory.shutdown();
      factory.awaitTermination(deadline.toMillis(), TimeUnit.MILLISECONDS);
      if (!factory.isTerminated()) {
        // Interrupted handlers fail their attempt as "worker stopped"; Temporal retries the run on
        // another worker.
        factory.shutdownNow();
        factory.awaitTermination(INTERRUPT_GRACE.toMillis(), TimeUnit.MILLISECONDS);
      }
    }
    lanes.stop(left(until));
    calls.stop(left(until));
    Threads.shutdown(heartbeats, Duration.ZERO);
    status = EngineStatus.STOPPED;
  }

  private static Duration left(long untilNanos) {
    return Duration.ofNanos(Math.max(0, untilNanos - System.nanoTime()));
  }

  @Override
  public EngineStatus engineStatus() {
    return status;
  }

  @Override
  public void close() {
    stop(DEFAULT_STOP_DEADLINE);
    if (ownedStubs != null) {
      ownedStubs.shutdown();
    }
  }

  /** Configuration of a {@link TemporalEngine}; every default is a named constant. */
  public static final class Builder {
    private String target;
    private String namespace = DEFAULT_NAMESPACE;
    private WorkflowClient client;
    private String taskQueue = DEFAULT_TASK_QUEUE;
    private String prefix = DEFAULT_PREFIX;
    private WorkerOptions workerOptions = WorkerOptions.getDefaultInstance();
    private WorkerFactoryOptions factoryOptions = WorkerFactoryOptions.getDefaultInstance();
    private Duration connectTimeout = DEFAULT_CONNECT_TIMEOUT;
    private Duration runTimeout = DEFAULT_RUN_TIMEOUT;
    private Duration heartbeatTimeout = DEFAULT_HEARTBEAT_TIMEOUT;
    private Duration keyIdleTimeout = DEFAULT_KEY_IDLE_TIMEOUT;
    private int retainedRuns = DEFAULT_RETAINED_RUNS;
    private int submitThreads = DEFAULT_SUBMIT_THREADS;
    private int historyLimit = KeyWorkflowImpl.HISTORY_LIMIT;
    private Duration queryTimeout = DEFAULT_QUERY_TIMEOUT;

    private Builder() {}

    /** The Temporal frontend, {@code host:port}; the engine connects and owns the connection. */
    public Builder target(String hostPort) {
      this.target = Config.requireText("target", hostPort);
      return this;
    }

    /** The namespace (default {@code default}); it must exist. */
    public Builder namespace(String namespace) {
      this.namespace = Config.requireText("namespace", namespace);
      return this;
    }

    /** A client the host built (TLS, API keys, interceptors); the host keeps owning it. */
    public Builder client(WorkflowClient client) {
      this.client = Config.require("client", client);
      return this;
    }

    /** The task queue this engine's worker polls (default {@code durable-deploy}). */
    public Builder taskQueue(String taskQueue) {
      this.taskQueue = Config.requireText("taskQueue", taskQueue, 200);
      return this;
    }

    /**
     * The prefix of every workflow id the engine creates (default {@code durable-deploy}), so
     * several planes can share a namespace.
     */
    public Builder workflowIdPrefix(String prefix) {
      this.prefix = Config.requireText("workflowIdPrefix", prefix, 200);
      return this;
    }

    /** The worker's options: concurrency of workflow and activity tasks, rate limits. */
    public Builder workerOptions(WorkerOptions options) {
      this.workerOptions = Config.require("workerOptions", options);
      return this;
    }

    /** The worker factory's options: workflow cache size (stickiness), interceptors. */
    public Builder factoryOptions(WorkerFactoryOptions options) {
      this.factoryOptions = Config.require("factoryOptions", options);
      return this;
    }

    /** How long {@link #build} waits to reach {@link #target} (default 10 s). */
    public Builder connectTimeout(Duration timeout) {
      this.connectTimeout = Config.requirePositive("connectTimeout", timeout);
      return this;
    }

    /** The longest one attempt of a handler may run (default 1 h). */
    public Builder runTimeout(Duration timeout) {
      this.runTimeout = Config.requirePositive("runTimeout", timeout);
      return this;
    }

    /**
     * How soon a run whose worker died is retried elsewhere (default 30 s); handlers heartbeat at a
     * third of it.
     */
    public Builder heartbeatTimeout(Duration timeout) {
      this.heartbeatTimeout = Config.requirePositive("heartbeatTimeout", timeout);
      return this;
    }

    /** How long a key workflow waits with nothing queued before it completes (default 10 min). */
    public Builder keyIdleTimeout(Duration timeout) {
      this.keyIdleTimeout = Config.requirePositive("keyIdleTimeout", timeout);
      return this;
    }

    /** How long a status query or dead-letter call waits for a worker to answer (default 10 s). */
    public Builder queryTimeout(Duration timeout) {
      this.queryTimeout = Config.requirePositive("queryTimeout", timeout);
      return this;
    }

    /** Finished runs per key kept for status and idempotency (default 1,000). */
    public Builder retainedRuns(int runs) {
      this.retainedRuns = (int) Config.requireAtLeast("retainedRuns", runs, 1);
      return this;
    }

    /** Keys whose submissions are sent to Temporal at the same time (default 16). */
    public Builder submitThreads(int threads) {
      this.submitThreads = (int) Config.requireAtLeast("submitThreads", threads, 1);
      return this;
    }

    /** History events after which a key workflow continues as new (tests shorten it). */
    Builder historyLimit(int events) {
      this.historyLimit = events;
      return this;
    }

    /**
     * Connects (unless a client was given) and checks the namespace; fails with an actionable
     * {@link ConfigurationException} when Temporal cannot be reached or the namespace is missing.
     */
    public TemporalEngine build() {
      if (client != null) {
        return new TemporalEngine(this, client, null);
      }
      if (target == null) {
        throw new ConfigurationException(
            "temporal.target", "set target(\"host:7233\") or pass a client(WorkflowClient)");
      }
      Connection owned = Connection.open(target, namespace, connectTimeout);
      return new TemporalEngine(this, owned.client(), owned.stubs());
    }
  }
}
