package dev.durabledeploy.engine.temporal;

import dev.durabledeploy.spi.ConfigurationException;
import dev.durabledeploy.spi.DurableDeployException;
import dev.durabledeploy.spi.Inputs;
import dev.durabledeploy.spi.InvalidInputException;
import dev.durabledeploy.spi.TransientStoreException;
import dev.durabledeploy.spi.engine.CronSchedule;
import dev.durabledeploy.spi.engine.DeadLetter;
import dev.durabledeploy.spi.engine.EngineStatus;
import dev.durabledeploy.spi.engine.RunContext;
import dev.durabledeploy.spi.engine.RunHandle;
import dev.durabledeploy.spi.engine.RunId;
import dev.durabledeploy.spi.engine.RunStatus;
import dev.durabledeploy.spi.engine.Submission;
import dev.durabledeploy.spi.engine.WorkflowDefinition;
import dev.durabledeploy.spi.engine.WorkflowEngine;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.temporal.activity.Activity;
import io.temporal.activity.ActivityExecutionContext;
import io.temporal.api.common.v1.Payloads;
import io.temporal.api.common.v1.WorkflowExecution;
import io.temporal.api.enums.v1.WorkflowExecutionStatus;
import io.temporal.api.enums.v1.WorkflowIdConflictPolicy;
import io.temporal.api.history.v1.History;
import io.temporal.api.history.v1.WorkflowExecutionStartedEventAttributes;
import io.temporal.api.workflowservice.v1.DescribeNamespaceRequest;
import io.temporal.api.workflowservice.v1.DescribeWorkflowExecutionRequest;
import io.temporal.api.workflowservice.v1.GetWorkflowExecutionHistoryRequest;
import io.temporal.api.workflowservice.v1.WorkflowServiceGrpc;
import io.temporal.client.UpdateOptions;
import io.temporal.client.WithStartWorkflowOperation;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowClientOptions;
import io.temporal.client.WorkflowExecutionAlreadyStarted;
import io.temporal.client.WorkflowNotFoundException;
import io.temporal.client.WorkflowOptions;
import io.temporal.client.WorkflowUpdateStage;
import io.temporal.failure.ApplicationFailure;
import io.temporal.serviceclient.WorkflowServiceStubs;
import io.temporal.serviceclient.WorkflowServiceStubsOptions;
import io.temporal.worker.Worker;
import io.temporal.worker.WorkerFactory;
import io.temporal.worker.WorkerFactoryOptions;
import io.temporal.worker.WorkerOptions;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

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
 * </ul>
 */
public final class TemporalEngine implements WorkflowEngine {

  public static final String DEFAULT_TASK_QUEUE = "durable-deploy";
  public static final String DEFAULT_PREFIX = "durable-deploy";
  public static final Duration DEFAULT_STOP_DEADLINE = Duration.ofSeconds(30);

  private static final Logger LOG = LoggerFactory.getLogger(TemporalEngine.class);
  private static final Pattern PLAIN_KEY = Pattern.compile("[A-Za-z0-9._@-]{1,90}");
  private static final Pattern FIVE_FIELDS = Pattern.compile("\\S+(\\s+\\S+){4}");

  private final WorkflowClient client;
  private final WorkflowServiceStubs ownedStubs;
  private final String target;
  private final String taskQueue;
  private final String prefix;
  private final Duration runTimeout;
  private final Duration heartbeatTimeout;
  private final Duration keyIdleTimeout;
  private final int retainedRuns;
  private final int historyLimit;
  private final WorkerFactory factory;
  private final Map<String, WorkflowDefinition> definitions = new ConcurrentHashMap<>();
  private final Map<String, CompletableFuture<Void>> lanes = new ConcurrentHashMap<>();
  private final ExecutorService submitters;
  private final Executor submitLane;
  private final ScheduledExecutorService heartbeats;
  private final ExecutorService queries;
  private final Duration queryTimeout;
  private volatile EngineStatus status = EngineStatus.NEW;

  private TemporalEngine(Builder b, WorkflowClient client, WorkflowServiceStubs ownedStubs) {
    this.client = client;
    this.ownedStubs = ownedStubs;
    this.target = b.target;
    this.taskQueue = b.taskQueue;
    this.prefix = b.prefix;
    this.runTimeout = b.runTimeout;
    this.heartbeatTimeout = b.heartbeatTimeout;
    this.keyIdleTimeout = b.keyIdleTimeout;
    this.retainedRuns = b.retainedRuns;
    this.historyLimit = b.historyLimit;
    this.submitters = Executors.newFixedThreadPool(b.submitThreads, daemon("temporal-submit"));
    // A lane's next submission may be handed over after stop shut the pool: it then runs (and is
    // refused) on the completing thread instead of being lost.
    this.submitLane =
        task -> {
          try {
            submitters.execute(task);
          } catch (RejectedExecutionException stopped) {
            task.run();
          }
        };
    this.heartbeats = Executors.newSingleThreadScheduledExecutor(daemon("temporal-heartbeat"));
    this.queries = Executors.newCachedThreadPool(daemon("temporal-query"));
    this.queryTimeout = b.queryTimeout;
    this.factory = WorkerFactory.newInstance(client, b.factoryOptions);
    Worker worker = factory.newWorker(taskQueue, b.workerOptions);
    worker.registerWorkflowImplementationTypes(
        KeyWorkflowImpl.class, DeadLetterWorkflowImpl.class, CronWorkflowImpl.class);
    worker.registerActivitiesImplementations(new Activities());
  }

  public static Builder builder() {
    return new Builder();
  }

  // ---- WorkflowEngine --------------------------------------------------------------------------

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
    Optional<DurableDeployException> refused =
        WorkflowEngine.refusal(status, definitions, submission);
    if (refused.isPresent()) {
      return CompletableFuture.failedFuture(refused.get());
    }
    WorkflowDefinition definition = definitions.get(submission.workflow());
    String key = definition.keyOf(submission.input());
    RunAddress address = new RunAddress(definition.name(), keyToken(key));
    String uuid =
        submission.idempotencyKey() == null
            ? UUID.randomUUID().toString()
            : UUID.nameUUIDFromBytes(
                    submission.scopedIdempotencyKey().getBytes(StandardCharsets.UTF_8))
                .toString();
    KeyWorkflow.Run run = new KeyWorkflow.Run();
    run.id = address.runId(uuid);
    run.workflow = definition.name();
    run.key = key;
    run.input = submission.input();
    run.retry =
        new KeyWorkflow.RetrySpec(
            definition.retryPolicy().maxAttempts(),
            definition.retryPolicy().initialDelay().toMillis(),
            definition.retryPolicy().maxDelay().toMillis(),
            definition.retryPolicy().multiplier());
    if (definition.debounce() != null) {
      run.quietMillis = Math.max(1, definition.debounce().quiet().toMillis());
      run.maxDelayMillis = definition.debounce().maxDelay().toMillis();
    }
    run.startToCloseMillis = runTimeout.toMillis();
    run.heartbeatMillis = heartbeatTimeout.toMillis();
    String workflowId = keyWorkflowId(address.workflow(), address.token());
    return inLane(
        workflowId,
        () -> {
          WorkflowEngine.refusal(status, definitions, submission)
              .ifPresent(
                  e -> {
                    throw e;
                  });
          KeyWorkflow.Accepted accepted = accept(workflowId, definition.name(), key, run);
          return new RunHandle(
              new RunId(accepted.runId()), definition.name(), accepted.deduplicated());
        });
  }

  /** Update-with-start of the key workflow; the same update id on a resend, so it counts once. */
  private KeyWorkflow.Accepted accept(
      String workflowId, String workflow, String key, KeyWorkflow.Run run) {
    KeyWorkflow stub =
        client.newWorkflowStub(
            KeyWorkflow.class,
            WorkflowOptions.newBuilder()
                .setWorkflowId(workflowId)
                .setTaskQueue(taskQueue)
                .setWorkflowIdConflictPolicy(
                    WorkflowIdConflictPolicy.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING)
                .build());
    KeyWorkflow.KeyState fresh =
        new KeyWorkflow.KeyState(
            workflow,
            key,
            keyIdleTimeout.toMillis(),
            retainedRuns,
            historyLimit,
            List.of(),
            List.of());
    String updateId = run.id + "#" + UUID.randomUUID();
    RuntimeException last = null;
    for (int attempt = 1; attempt <= 3; attempt++) {
      try {
        return WorkflowClient.executeUpdateWithStart(
            stub::submit,
            run,
            UpdateOptions.<KeyWorkflow.Accepted>newBuilder()
                .setUpdateId(updateId)
                .setWaitForStage(WorkflowUpdateStage.COMPLETED)
                .build(),
            new WithStartWorkflowOperation<>(stub::run, fresh));
      } catch (RuntimeException e) {
        // E.g. the key workflow completed (idle) or continued as new while the update was on its
        // way: the next attempt starts or finds the current run.
        last = e;
      }
    }
    throw new TransientStoreException(
        "Temporal did not accept a run of '"
            + workflow
            + "' (key workflow "
            + workflowId
            + "): "
            + describe(last)
            + "; check that the Temporal frontend"
            + (target == null ? "" : " at " + target)
            + " is reachable and that a worker polls task queue '"
            + taskQueue
            + "'",
        last);
  }

  /**
   * A query or update of a running workflow, answered by whichever worker holds it. Without a bound
   * such a call waits as long as no worker answers (a worker that died still holding the workflow,
   * a task queue nobody polls), so it gives up after the query timeout.
   */
  private <T> T bounded(String what, Supplier<T> call) {
    java.util.concurrent.Future<T> answer = queries.submit(call::get);
    try {
      return answer.get(queryTimeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (java.util.concurrent.TimeoutException e) {
      answer.cancel(true);
      throw new TransientStoreException(
          "no Temporal worker answered "
              + what
              + " within "
              + queryTimeout
              + "; check that a worker polls task queue '"
              + taskQueue
              + "' (a worker that just died is replaced after its sticky timeout)");
    } catch (java.util.concurrent.ExecutionException e) {
      if (e.getCause() instanceof RuntimeException runtime) {
        throw runtime;
      }
      throw new TransientStoreException(what + " failed: " + describe(e.getCause()), e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      answer.cancel(true);
      throw new TransientStoreException("interrupted while waiting for " + what, e);
    }
  }

  /** Runs {@code body} after every earlier submission of the same lane, on the submit pool. */
  private <T> CompletableFuture<T> inLane(String lane, Supplier<T> body) {
    CompletableFuture<T> result = new CompletableFuture<>();
    CompletableFuture<?>[] mine = new CompletableFuture<?>[1];
    lanes.compute(
        lane,
        (k, tail) -> {
          CompletableFuture<Void> previous =
              tail == null ? CompletableFuture.completedFuture(null) : tail;
          CompletableFuture<Void> next =
              previous.thenRunAsync(
                  () -> {
                    try {
                      result.complete(body.get());
                    } catch (RuntimeException e) {
                      result.completeExceptionally(e);
                    }
                  },
                  submitLane);
          mine[0] = next;
          return next;
        });
    mine[0].whenComplete((x, e) -> lanes.remove(lane, mine[0]));
    return result;
  }

  @Override
  public void schedule(CronSchedule schedule) {
    Objects.requireNonNull(schedule, "schedule");
    if (!FIVE_FIELDS.matcher(schedule.expression().trim()).matches()) {
      throw new InvalidInputException(
          "cron", "'" + schedule.expression() + "' is not a five-field Unix cron expression");
    }
    String workflowId = cronWorkflowId(schedule.id());
    String zone = schedule.zone().normalized().getId();
    String cron =
        (zone.equals("Z") || zone.equals("UTC") ? "" : "CRON_TZ=" + zone + " ")
            + schedule.expression().trim();
    Map<String, String> input = new TreeMap<>(schedule.input()); // the same payload every time
    if (alreadyScheduled(workflowId, cron, schedule.workflow(), input)) {
      return; // every host schedules at start: the first one's cron workflow keeps running
    }
    unschedule(schedule.id());
    CronWorkflow stub =
        client.newWorkflowStub(
            CronWorkflow.class,
            WorkflowOptions.newBuilder()
                .setWorkflowId(workflowId)
                .setTaskQueue(taskQueue)
                .setCronSchedule(cron)
                .build());
    try {
      WorkflowClient.start(stub::fire, schedule.workflow(), input);
    } catch (WorkflowExecutionAlreadyStarted anotherHost) {
      LOG.debug("schedule {} was started by another host at the same time", schedule.id());
    } catch (RuntimeException e) {
      if (Status.fromThrowable(e).getCode() == Status.Code.INVALID_ARGUMENT) {
        throw new InvalidInputException(
            "cron", "Temporal refused '" + schedule.expression() + "': " + describe(e));
      }
      throw new TransientStoreException(
          "could not start schedule " + schedule.id() + " on Temporal: " + describe(e), e);
    }
  }

  /** Whether the cron workflow runs with this expression and input already. */
  private boolean alreadyScheduled(
      String workflowId, String cron, String workflow, Map<String, String> input) {
    WorkflowExecution execution = WorkflowExecution.newBuilder().setWorkflowId(workflowId).build();
    String namespace = client.getOptions().getNamespace();
    try {
      WorkflowServiceGrpc.WorkflowServiceBlockingStub service =
          client.getWorkflowServiceStubs().blockingStub();
      WorkflowExecutionStatus current =
          service
              .describeWorkflowExecution(
                  DescribeWorkflowExecutionRequest.newBuilder()
                      .setNamespace(namespace)
                      .setExecution(execution)
                      .build())
              .getWorkflowExecutionInfo()
              .getStatus();
      if (current != WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING) {
        return false;
      }
      History history =
          service
              .getWorkflowExecutionHistory(
                  GetWorkflowExecutionHistoryRequest.newBuilder()
                      .setNamespace(namespace)
                      .setExecution(execution)
                      .setMaximumPageSize(1)
                      .build())
              .getHistory();
      if (history.getEventsCount() == 0) {
        return false;
      }
      WorkflowExecutionStartedEventAttributes started =
          history.getEvents(0).getWorkflowExecutionStartedEventAttributes();
      Optional<Payloads> wanted =
          client.getOptions().getDataConverter().toPayloads(workflow, input);
      return started.getCronSchedule().equals(cron)
          && wanted.isPresent()
          && wanted.get().equals(started.getInput());
    } catch (StatusRuntimeException e) {
      if (e.getStatus().getCode() == Status.Code.NOT_FOUND) {
        return false;
      }
      throw new TransientStoreException(
          "could not read schedule " + workflowId + " from Temporal: " + describe(e), e);
    }
  }

  @Override
  public boolean unschedule(String scheduleId) {
    try {
      client.newUntypedWorkflowStub(cronWorkflowId(scheduleId)).terminate("unscheduled");
      return true;
    } catch (WorkflowNotFoundException none) {
      return false;
    }
  }

  @Override
  public Optional<RunStatus> status(RunId id) {
    Objects.requireNonNull(id, "id");
    Optional<RunAddress> address = RunAddress.of(id);
    if (address.isEmpty() || status != EngineStatus.RUNNING) {
      return Optional.empty();
    }
    KeyWorkflow.Outcome outcome;
    try {
      outcome =
          bounded("the status of run " + id, () -> keyWorkflow(address.get()).outcome(id.value()));
    } catch (WorkflowNotFoundException gone) {
      return Optional.empty();
    }
    if (outcome == null) {
      return Optional.empty();
    }
    return Optional.of(
        new RunStatus(
            id,
            address.get().workflow(),
            outcome.key(),
            outcome.state(),
            outcome.attempts(),
            outcome.lastError(),
            Instant.ofEpochMilli(outcome.updatedAtMillis())));
  }

  @Override
  public List<DeadLetter> deadLetters(int limit) {
    try {
      return bounded("the dead-letter listing", () -> registry().list(limit)).stream()
          .map(TemporalEngine::toDeadLetter)
          .toList();
    } catch (WorkflowNotFoundException none) {
      return List.of();
    }
  }

  @Override
  public CompletionStage<RunHandle> retryDeadLetter(RunId id) {
    Objects.requireNonNull(id, "id");
    Optional<DeadLetter> letter =
        deadLetters(Integer.MAX_VALUE).stream().filter(d -> d.id().equals(id)).findFirst();
    if (letter.isEmpty()) {
      return CompletableFuture.failedFuture(
          new InvalidInputException("runId", "no dead letter for run " + id));
    }
    return submit(Submission.of(letter.get().workflow(), letter.get().input()))
        .thenApply(
            handle -> {
              bounded("removing dead letter " + id, () -> registry().remove(id.value()));
              return handle;
            });
  }

  @Override
  public boolean discardDeadLetter(RunId id) {
    Objects.requireNonNull(id, "id");
    DeadLetterWorkflow.Letter removed;
    try {
      removed = bounded("removing dead letter " + id, () -> registry().remove(id.value()));
    } catch (WorkflowNotFoundException none) {
      return false;
    }
    if (removed == null) {
      return false;
    }
    try {
      bounded(
          "marking run " + id + " discarded",
          () -> keyWorkflow(RunAddress.of(id).orElseThrow()).discard(id.value()));
    } catch (RuntimeException keyGone) {
      // The key workflow completed since; its outcome is forgotten, the letter is gone: done.
      LOG.debug("run {} discarded; its key workflow no longer runs: {}", id, describe(keyGone));
    }
    return true;
  }

  @Override
  public synchronized void start() {
    if (status != EngineStatus.NEW) {
      throw new IllegalStateException("the engine is " + status + "; start it once");
    }
    factory.start();
    status = EngineStatus.RUNNING;
  }

  @Override
  public synchronized void stop(Duration deadline) {
    if (status == EngineStatus.STOPPED || status == EngineStatus.STOPPING) {
      return;
    }
    boolean wasRunning = status == EngineStatus.RUNNING;
    status = EngineStatus.STOPPING;
    if (wasRunning) {
      factory.suspendPolling();
      factory.shutdown();
      factory.awaitTermination(deadline.toMillis(), TimeUnit.MILLISECONDS);
      if (!factory.isTerminated()) {
        // Interrupted handlers fail their attempt as "worker stopped"; Temporal retries the run on
        // another worker.
        factory.shutdownNow();
        factory.awaitTermination(10, TimeUnit.SECONDS);
      }
    }
    submitters.shutdown();
    heartbeats.shutdownNow();
    queries.shutdown();
    status = EngineStatus.STOPPED;
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

  // ---- activities --------------------------------------------------------------------------

  /** What the Temporal workflows ask of this engine's worker. */
  private final class Activities implements RunActivities {

    @Override
    public int execute(String runId, String workflow, String key, Map<String, String> input) {
      ActivityExecutionContext context = Activity.getExecutionContext();
      int attempt = context.getInfo().getAttempt();
      WorkflowDefinition definition = definitions.get(workflow);
      if (definition == null) {
        // Another host's version knows it: retryable, so a worker that has it takes the run.
        throw ApplicationFailure.newFailure(
            "workflow '" + workflow + "' is not registered on this worker",
            "NotRegistered",
            attempt);
      }
      long beat = Math.max(50, heartbeatTimeout.toMillis() / 3);
      ScheduledFuture<?> heartbeat =
          heartbeats.scheduleAtFixedRate(
              () -> heartbeat(context), beat, beat, TimeUnit.MILLISECONDS);
      try {
        definition
            .handler()
            .run(
                RunContext.of(
                    new RunId(runId),
                    workflow,
                    input,
                    key,
                    attempt,
                    () -> status != EngineStatus.RUNNING));
        return attempt;
      } catch (Exception e) {
        if (e instanceof InterruptedException) {
          Thread.currentThread().interrupt();
        }
        String error = describe(e);
        if (status != EngineStatus.RUNNING) {
          throw ApplicationFailure.newFailure("worker stopped: " + error, "WorkerStopped", attempt);
        }
        if (!definition.retryPolicy().isTransient(e)) {
          throw ApplicationFailure.newNonRetryableFailure(error, e.getClass().getName(), attempt);
        }
        throw ApplicationFailure.newFailure(error, e.getClass().getName(), attempt);
      } finally {
        heartbeat.cancel(false);
      }
    }

    private void heartbeat(ActivityExecutionContext context) {
      try {
        context.heartbeat(null);
      } catch (RuntimeException e) {
        LOG.debug("heartbeat failed: {}", describe(e));
      }
    }

    @Override
    public void deadLetter(DeadLetterWorkflow.Letter letter) {
      DeadLetterWorkflow stub =
          client.newWorkflowStub(
              DeadLetterWorkflow.class,
              WorkflowOptions.newBuilder()
                  .setWorkflowId(registryId())
                  .setTaskQueue(taskQueue)
                  .setWorkflowIdConflictPolicy(
                      WorkflowIdConflictPolicy.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING)
                  .build());
      WorkflowClient.executeUpdateWithStart(
          stub::add,
          letter,
          UpdateOptions.<Void>newBuilder()
              .setUpdateId("dead:" + letter.runId())
              .setWaitForStage(WorkflowUpdateStage.COMPLETED)
              .build(),
          new WithStartWorkflowOperation<>(stub::run, List.<DeadLetterWorkflow.Letter>of()));
    }

    @Override
    public void submit(String workflow, Map<String, String> input) {
      TemporalEngine.this
          .submit(Submission.of(workflow, input))
          .toCompletableFuture()
          .orTimeout(1, TimeUnit.MINUTES)
          .join();
    }
  }

  // ---- naming --------------------------------------------------------------------------------

  /**
   * A key as it appears in workflow and run ids: {@code k.<key>} when it is short and plain, else
   * {@code h.<sha-256 prefix>} (two keys sharing a hash would share a queue: slower, never wrong).
   */
  static String keyToken(String key) {
    if (PLAIN_KEY.matcher(key).matches()) {
      return "k." + key;
    }
    try {
      byte[] hash =
          MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8));
      return "h." + HexFormat.of().formatHex(hash, 0, 16);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JDK has SHA-256", e);
    }
  }

  /**
   * Where a run lives: a run id is {@code <workflow>:<key token>:<uuid>}, so any host finds its key
   * workflow without a lookup.
   */
  private record RunAddress(String workflow, String token) {
    String runId(String uuid) {
      return workflow + ":" + token + ":" + uuid;
    }

    static Optional<RunAddress> of(RunId id) {
      String[] parts = id.value().split(":", 3);
      return parts.length == 3 ? Optional.of(new RunAddress(parts[0], parts[1])) : Optional.empty();
    }
  }

  private KeyWorkflow keyWorkflow(RunAddress address) {
    return client.newWorkflowStub(
        KeyWorkflow.class, keyWorkflowId(address.workflow(), address.token()));
  }

  private String keyWorkflowId(String workflow, String token) {
    return prefix + "/" + workflow + "/" + token;
  }

  private String cronWorkflowId(String scheduleId) {
    return prefix + "/cron/" + scheduleId;
  }

  private String registryId() {
    return prefix + "/dead-letters";
  }

  private DeadLetterWorkflow registry() {
    return client.newWorkflowStub(DeadLetterWorkflow.class, registryId());
  }

  private static DeadLetter toDeadLetter(DeadLetterWorkflow.Letter l) {
    return new DeadLetter(
        new RunId(l.runId()),
        l.workflow(),
        l.input(),
        l.key(),
        l.attempts(),
        l.lastError(),
        Instant.ofEpochMilli(l.deadAtMillis()));
  }

  /**
   * An error as text for messages, dead letters and run status (which Temporal keeps in workflow
   * history), scrubbed of anything that looks like a secret, as the core does for its events.
   */
  static String describe(Throwable e) {
    if (e == null) {
      return "unknown error";
    }
    if (e instanceof StatusRuntimeException grpc) {
      return Inputs.redactCredentials(
          "gRPC " + grpc.getStatus().getCode() + " " + grpc.getStatus().getDescription());
    }
    String message = e.getMessage();
    return Inputs.redactCredentials(
        e.getClass().getSimpleName() + (message == null ? "" : ": " + message));
  }

  private static java.util.concurrent.ThreadFactory daemon(String name) {
    AtomicInteger n = new AtomicInteger();
    return r -> {
      Thread t = new Thread(r, name + "-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    };
  }

  // ---- configuration -------------------------------------------------------------------------

  /** Configuration of a {@link TemporalEngine}. */
  public static final class Builder {
    private String target;
    private String namespace = "default";
    private WorkflowClient client;
    private String taskQueue = DEFAULT_TASK_QUEUE;
    private String prefix = DEFAULT_PREFIX;
    private WorkerOptions workerOptions = WorkerOptions.getDefaultInstance();
    private WorkerFactoryOptions factoryOptions = WorkerFactoryOptions.getDefaultInstance();
    private Duration connectTimeout = Duration.ofSeconds(10);
    private Duration runTimeout = Duration.ofHours(1);
    private Duration heartbeatTimeout = Duration.ofSeconds(30);
    private Duration keyIdleTimeout = Duration.ofMinutes(10);
    private int retainedRuns = 1_000;
    private int submitThreads = 16;
    private int historyLimit = KeyWorkflowImpl.HISTORY_LIMIT;
    private Duration queryTimeout = Duration.ofSeconds(10);

    private Builder() {}

    /** The Temporal frontend, {@code host:port}; the engine connects and owns the connection. */
    public Builder target(String hostPort) {
      this.target = Objects.requireNonNull(hostPort, "target");
      return this;
    }

    /** The namespace (default {@code default}); it must exist. */
    public Builder namespace(String namespace) {
      this.namespace = Objects.requireNonNull(namespace, "namespace");
      return this;
    }

    /** A client the host built (TLS, API keys, interceptors); the host keeps owning it. */
    public Builder client(WorkflowClient client) {
      this.client = Objects.requireNonNull(client, "client");
      return this;
    }

    /** The task queue this engine's worker polls (default {@code durable-deploy}). */
    public Builder taskQueue(String taskQueue) {
      this.taskQueue = requireText("taskQueue", taskQueue);
      return this;
    }

    /**
     * The prefix of every workflow id the engine creates (default {@code durable-deploy}), so
     * several planes can share a namespace.
     */
    public Builder workflowIdPrefix(String prefix) {
      this.prefix = requireText("workflowIdPrefix", prefix);
      return this;
    }

    /** The worker's options: concurrency of workflow and activity tasks, rate limits. */
    public Builder workerOptions(WorkerOptions options) {
      this.workerOptions = Objects.requireNonNull(options, "workerOptions");
      return this;
    }

    /** The worker factory's options: workflow cache size (stickiness), interceptors. */
    public Builder factoryOptions(WorkerFactoryOptions options) {
      this.factoryOptions = Objects.requireNonNull(options, "factoryOptions");
      return this;
    }

    /** How long {@link #build} waits to reach {@link #target} (default 10 s). */
    public Builder connectTimeout(Duration timeout) {
      this.connectTimeout = requirePositive("connectTimeout", timeout);
      return this;
    }

    /** The longest one attempt of a handler may run (default 1 h). */
    public Builder runTimeout(Duration timeout) {
      this.runTimeout = requirePositive("runTimeout", timeout);
      return this;
    }

    /**
     * How soon a run whose worker died is retried elsewhere (default 30 s); handlers heartbeat at a
     * third of it.
     */
    public Builder heartbeatTimeout(Duration timeout) {
      this.heartbeatTimeout = requirePositive("heartbeatTimeout", timeout);
      return this;
    }

    /** How long a key workflow waits with nothing queued before it completes (default 10 min). */
    public Builder keyIdleTimeout(Duration timeout) {
      this.keyIdleTimeout = requirePositive("keyIdleTimeout", timeout);
      return this;
    }

    /** How long a status query or dead-letter call waits for a worker to answer (default 10 s). */
    public Builder queryTimeout(Duration timeout) {
      this.queryTimeout = requirePositive("queryTimeout", timeout);
      return this;
    }

    /** Finished runs per key kept for status and idempotency (default 1,000). */
    public Builder retainedRuns(int runs) {
      if (runs < 1) {
        throw new ConfigurationException("retainedRuns", "must be at least 1, was " + runs);
      }
      this.retainedRuns = runs;
      return this;
    }

    /** Keys whose submissions are sent to Temporal at the same time (default 16). */
    public Builder submitThreads(int threads) {
      if (threads < 1) {
        throw new ConfigurationException("submitThreads", "must be at least 1, was " + threads);
      }
      this.submitThreads = threads;
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
      WorkflowServiceStubs stubs;
      try {
        stubs =
            WorkflowServiceStubs.newConnectedServiceStubs(
                WorkflowServiceStubsOptions.newBuilder().setTarget(target).build(), connectTimeout);
      } catch (RuntimeException e) {
        throw new ConfigurationException(
            "temporal.target",
            "cannot reach Temporal at "
                + target
                + " within "
                + connectTimeout
                + " ("
                + describe(e)
                + "); check the host and port of the frontend service, TLS settings and the"
                + " network",
            e);
      }
      try {
        stubs
            .blockingStub()
            .describeNamespace(
                DescribeNamespaceRequest.newBuilder().setNamespace(namespace).build());
      } catch (RuntimeException e) {
        stubs.shutdown();
        boolean missing = Status.fromThrowable(e).getCode() == Status.Code.NOT_FOUND;
        throw new ConfigurationException(
            "temporal.namespace",
            missing
                ? "namespace '"
                    + namespace
                    + "' does not exist on "
                    + target
                    + "; create it (temporal operator namespace create "
                    + namespace
                    + ") or configure namespace(...)"
                : "cannot describe namespace '" + namespace + "' on " + target + ": " + describe(e),
            e);
      }
      WorkflowClient owned =
          WorkflowClient.newInstance(
              stubs, WorkflowClientOptions.newBuilder().setNamespace(namespace).build());
      return new TemporalEngine(this, owned, stubs);
    }

    private static String requireText(String field, String value) {
      if (value == null || value.isBlank() || value.length() > 200) {
        throw new ConfigurationException(field, "must be 1 to 200 characters");
      }
      return value;
    }

    private static Duration requirePositive(String field, Duration value) {
      if (value == null || value.isNegative() || value.isZero()) {
        throw new ConfigurationException(field, "must be positive");
      }
      return value;
    }
  }
}
