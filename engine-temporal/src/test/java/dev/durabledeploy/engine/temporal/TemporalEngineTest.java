package dev.durabledeploy.engine.temporal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.durabledeploy.spi.engine.CronSchedule;
import dev.durabledeploy.spi.engine.EngineStatus;
import dev.durabledeploy.spi.engine.RunHandle;
import dev.durabledeploy.spi.engine.RunId;
import dev.durabledeploy.spi.engine.RunState;
import dev.durabledeploy.spi.engine.RunStatus;
import dev.durabledeploy.spi.engine.Submission;
import dev.durabledeploy.spi.engine.WorkflowDefinition;
import dev.durabledeploy.spi.engine.WorkflowHandler;
import dev.durabledeploy.spi.exception.ConfigurationException;
import dev.durabledeploy.spi.exception.EngineNotRunningException;
import dev.durabledeploy.spi.exception.EngineUnavailableException;
import dev.durabledeploy.spi.exception.InvalidInputException;
import dev.durabledeploy.spi.exception.TransientStoreException;
import dev.durabledeploy.spi.retry.RetryPolicy;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.temporal.api.common.v1.WorkflowExecution;
import io.temporal.api.enums.v1.WorkflowExecutionStatus;
import io.temporal.api.workflowservice.v1.DescribeWorkflowExecutionRequest;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowOptions;
import io.temporal.serviceclient.RpcRetryOptions;
import io.temporal.serviceclient.WorkflowServiceStubs;
import io.temporal.serviceclient.WorkflowServiceStubsOptions;
import io.temporal.testing.TestEnvironmentOptions;
import io.temporal.testing.TestWorkflowEnvironment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** What the TCK cannot say about Temporal: workers that go away, history, cron, configuration. */
@DisplayName("TemporalEngine")
class TemporalEngineTest {

  private static final RetryPolicy FAST =
      RetryPolicy.defaults()
          .withMaxAttempts(3)
          .withBackoff(Duration.ofMillis(1), Duration.ofMillis(5), 2.0);

  private final List<AutoCloseable> closing = new ArrayList<>();
  private final String unique = UUID.randomUUID().toString().substring(0, 8);
  private TestWorkflowEnvironment env;

  @AfterEach
  void close() throws Exception {
    Collections.reverse(closing);
    for (AutoCloseable c : closing) {
      c.close();
    }
  }

  private TestWorkflowEnvironment env(boolean timeSkipping) {
    env =
        TestWorkflowEnvironment.newInstance(
            TestEnvironmentOptions.newBuilder().setUseTimeskipping(timeSkipping).build());
    closing.add(env::close);
    return env;
  }

  private TemporalEngine.Builder engine() {
    return TemporalEngine.builder()
        .client(env.getWorkflowClient())
        .taskQueue("q-" + unique)
        .workflowIdPrefix("p-" + unique)
        .heartbeatTimeout(Duration.ofSeconds(2))
        .queryTimeout(Duration.ofSeconds(2));
  }

  private TemporalEngine started(TemporalEngine.Builder builder, WorkflowDefinition... defs) {
    TemporalEngine engine = builder.build();
    closing.add(engine);
    for (WorkflowDefinition d : defs) {
      engine.register(d);
    }
    engine.start();
    return engine;
  }

  private static WorkflowDefinition keyed(String name, WorkflowHandler handler) {
    return WorkflowDefinition.named(name).keyedBy("key").retryPolicy(FAST).handler(handler);
  }

  private static RunHandle submit(TemporalEngine engine, String workflow, Map<String, String> in) {
    return engine
        .submit(Submission.of(workflow, in))
        .toCompletableFuture()
        .orTimeout(30, TimeUnit.SECONDS)
        .join();
  }

  private static RunStatus awaitState(TemporalEngine engine, RunId id, RunState state) {
    // Right after a worker went away, status can be unanswered until its sticky timeout passes.
    return await()
        .atMost(Duration.ofSeconds(30))
        .ignoreExceptionsInstanceOf(EngineUnavailableException.class)
        .until(() -> engine.status(id).orElse(null), s -> s != null && s.state() == state);
  }

  private WorkflowExecutionStatus keyWorkflowStatus(String workflow, String key) {
    return describe("p-" + unique + "/" + workflow + "/" + WorkflowIds.keyToken(key)).getStatus();
  }

  private String cronRunId(String scheduleId) {
    return describe("p-" + unique + "/cron/" + scheduleId).getExecution().getRunId();
  }

  private io.temporal.api.workflow.v1.WorkflowExecutionInfo describe(String workflowId) {
    return env.getWorkflowClient()
        .getWorkflowServiceStubs()
        .blockingStub()
        .describeWorkflowExecution(
            DescribeWorkflowExecutionRequest.newBuilder()
                .setNamespace(env.getNamespace())
                .setExecution(WorkflowExecution.newBuilder().setWorkflowId(workflowId))
                .build())
        .getWorkflowExecutionInfo();
  }

  @Test
  @DisplayName("a run whose worker stops mid-run resumes on another worker, attempt 2")
  void resumesOnAnotherWorker() throws Exception {
    env(false);
    CountDownLatch runningOnA = new CountDownLatch(1);
    CountDownLatch never = new CountDownLatch(1);
    List<String> attempts = Collections.synchronizedList(new ArrayList<>());
    TemporalEngine a =
        started(
            engine(),
            keyed(
                "resume",
                ctx -> {
                  attempts.add("a" + ctx.attempt());
                  runningOnA.countDown();
                  never.await();
                }));
    submit(a, "resume", Map.of("key", "site-1"));
    assertThat(runningOnA.await(30, TimeUnit.SECONDS)).isTrue();

    TemporalEngine b = started(engine(), keyed("resume", ctx -> attempts.add("b" + ctx.attempt())));
    a.stop(Duration.ofMillis(100));

    // The run's next attempt runs on B. (Its outcome is not asserted through status: the test
    // server hands the workflow task that follows to a poll the stopped worker left behind and
    // never re-dispatches it; a real server times such a poll out.)
    await().atMost(Duration.ofSeconds(30)).until(() -> attempts.size() == 2);
    assertThat(attempts).containsExactly("a1", "b2");
  }

  @Test
  @DisplayName("a key continues as new with its queue and outcomes: order kept, old runs known")
  void continuesAsNew() {
    env(false);
    List<Integer> order = Collections.synchronizedList(new ArrayList<>());
    TemporalEngine engine =
        started(
            engine().historyLimit(60),
            keyed("long", ctx -> order.add(Integer.parseInt(ctx.input().get("n")))));
    List<RunId> ids = new ArrayList<>();
    for (int n = 0; n < 30; n++) {
      ids.add(
          engine
              .submit(Submission.of("long", Map.of("key", "k", "n", Integer.toString(n))))
              .toCompletableFuture()
              .orTimeout(30, TimeUnit.SECONDS)
              .join()
              .id());
    }
    awaitState(engine, ids.get(29), RunState.SUCCEEDED);
    assertThat(order).hasSize(30).isSorted();
    // The first run's outcome crossed every continue-as-new.
    assertThat(engine.status(ids.get(0)))
        .get()
        .extracting(RunStatus::state)
        .isEqualTo(RunState.SUCCEEDED);
    int events =
        env.getWorkflowClient()
            .fetchHistory("p-" + unique + "/long/" + WorkflowIds.keyToken("k"))
            .getHistory()
            .getEventsCount();
    assertThat(events).as("events in the key's current run").isLessThan(150);
  }

  @Test
  @DisplayName("an idle key workflow completes; the next submission starts it again")
  void idleKeyCompletes() {
    env(false);
    AtomicInteger calls = new AtomicInteger();
    TemporalEngine engine =
        started(
            engine().keyIdleTimeout(Duration.ofMillis(300)),
            keyed("idle", ctx -> calls.incrementAndGet()));
    awaitState(engine, submit(engine, "idle", Map.of("key", "k")).id(), RunState.SUCCEEDED);
    await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () -> keyWorkflowStatus("idle", "k"),
            s -> s == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_COMPLETED);
    awaitState(engine, submit(engine, "idle", Map.of("key", "k")).id(), RunState.SUCCEEDED);
    assertThat(calls.get()).isEqualTo(2);
  }

  @Test
  @DisplayName("a key that is not a plain token is hashed into the workflow id, and reported back")
  void oddKeys() {
    env(false);
    List<String> keys = Collections.synchronizedList(new ArrayList<>());
    TemporalEngine engine = started(engine(), keyed("odd", ctx -> keys.add(ctx.concurrencyKey())));
    String odd = "site with spaces/and/slashes ✓";
    RunStatus status =
        awaitState(engine, submit(engine, "odd", Map.of("key", odd)).id(), RunState.SUCCEEDED);
    assertThat(keys).containsExactly(odd);
    assertThat(WorkflowIds.keyToken(odd)).startsWith("h.").hasSize(34);
    assertThat(status.concurrencyKey()).isEqualTo(odd);
  }

  @Test
  @DisplayName("cron schedules fire as Temporal cron workflows; replace, unschedule, bad input")
  void cron() {
    env(true);
    AtomicInteger ticks = new AtomicInteger();
    TemporalEngine engine = started(engine(), keyed("tick", ctx -> ticks.incrementAndGet()));
    assertThatThrownBy(() -> engine.schedule(CronSchedule.utc("bad", "tick", "every minute")))
        .isInstanceOfSatisfying(
            InvalidInputException.class, e -> assertThat(e.field()).isEqualTo("cron"));
    engine.schedule(CronSchedule.utc("ticker", "tick", "0 0 1 1 *"));
    engine.schedule(CronSchedule.utc("ticker", "tick", "* * * * *")); // replaces the yearly one
    String runId = cronRunId("ticker");
    engine.schedule(CronSchedule.utc("ticker", "tick", "* * * * *")); // as every host does at start
    assertThat(cronRunId("ticker"))
        .as("the same schedule again leaves it running")
        .isEqualTo(runId);
    env.sleep(Duration.ofMinutes(3));
    await().atMost(Duration.ofSeconds(30)).until(() -> ticks.get() >= 2);
    assertThat(engine.unschedule("ticker")).isTrue();
    assertThat(engine.unschedule("ticker")).isFalse();
  }

  @Test
  @DisplayName("an unreachable Temporal fails the build with what to check, naming the target")
  void unreachable() {
    assertThatThrownBy(
            () ->
                TemporalEngine.builder()
                    .target("127.0.0.1:1")
                    .connectTimeout(Duration.ofSeconds(2))
                    .build())
        .isInstanceOf(ConfigurationException.class)
        .hasMessageContaining("temporal.target")
        .hasMessageContaining("cannot reach Temporal at 127.0.0.1:1")
        .hasMessageContaining("check the host and port");
    assertThatThrownBy(() -> TemporalEngine.builder().build())
        .isInstanceOf(ConfigurationException.class)
        .hasMessageContaining("client(WorkflowClient)");
    assertThatThrownBy(() -> TemporalEngine.builder().taskQueue(" "))
        .isInstanceOf(ConfigurationException.class)
        .hasMessageContaining("taskQueue");
  }

  @Test
  @DisplayName(
      "a worker that cannot reach Temporal fails start with EngineUnavailableException; the"
          + " engine stays NEW")
  void unreachableAtStart() {
    WorkflowServiceStubs stubs =
        WorkflowServiceStubs.newServiceStubs(
            WorkflowServiceStubsOptions.newBuilder()
                .setTarget("127.0.0.1:1")
                .setRpcRetryOptions(
                    RpcRetryOptions.newBuilder()
                        .setExpiration(Duration.ofMillis(500))
                        .validateBuildWithDefaults())
                .build());
    closing.add(stubs::shutdownNow);
    TemporalEngine engine =
        TemporalEngine.builder()
            .client(WorkflowClient.newInstance(stubs))
            .taskQueue("q-" + unique)
            .workflowIdPrefix("p-" + unique)
            .build();
    closing.add(engine);
    engine.register(keyed("w", ctx -> {}));
    assertThatThrownBy(engine::start)
        .isInstanceOf(EngineUnavailableException.class)
        .isNotInstanceOf(TransientStoreException.class)
        .hasMessageContaining("check that the Temporal frontend");
    assertThat(engine.engineStatus()).isEqualTo(EngineStatus.NEW);
  }

  @Test
  @DisplayName(
      "a Temporal that goes away after start fails submit and schedule with"
          + " EngineUnavailableException, not a store's exception")
  void unreachableAtRunTime() {
    AtomicBoolean down = new AtomicBoolean();
    env =
        TestWorkflowEnvironment.newInstance(
            TestEnvironmentOptions.newBuilder()
                .setUseTimeskipping(false)
                .setWorkflowServiceStubsOptions(
                    WorkflowServiceStubsOptions.newBuilder()
                        .addGrpcClientInterceptor(new Outage(down))
                        .setRpcRetryOptions(
                            RpcRetryOptions.newBuilder()
                                .setExpiration(Duration.ofMillis(500))
                                .validateBuildWithDefaults())
                        .build())
                .build());
    closing.add(env::close);
    TemporalEngine engine = started(engine(), keyed("w", ctx -> {}));
    down.set(true);
    assertThatThrownBy(
            () ->
                engine
                    .submit(Submission.of("w", Map.of("key", "k")))
                    .toCompletableFuture()
                    .get(60, TimeUnit.SECONDS))
        .isInstanceOf(ExecutionException.class)
        .cause()
        .isInstanceOf(EngineUnavailableException.class)
        .isNotInstanceOf(TransientStoreException.class)
        .hasMessageContaining("check that the Temporal frontend");
    assertThatThrownBy(() -> engine.schedule(CronSchedule.utc("s", "w", "* * * * *")))
        .isInstanceOf(EngineUnavailableException.class)
        .isNotInstanceOf(TransientStoreException.class)
        .hasMessageContaining("schedule s");
    down.set(false);
  }

  /** Fails every call to the Temporal frontend with UNAVAILABLE while {@code down} is set. */
  private record Outage(AtomicBoolean down) implements ClientInterceptor {
    @Override
    public <Q, R> ClientCall<Q, R> interceptCall(
        MethodDescriptor<Q, R> method, CallOptions options, Channel next) {
      if (!down.get()) {
        return next.newCall(method, options);
      }
      return new ClientCall<>() {
        @Override
        public void start(Listener<R> listener, Metadata headers) {
          listener.onClose(Status.UNAVAILABLE.withDescription("outage"), new Metadata());
        }

        @Override
        public void request(int messages) {}

        @Override
        public void cancel(String message, Throwable cause) {}

        @Override
        public void halfClose() {}

        @Override
        public void sendMessage(Q message) {}
      };
    }
  }

  @Test
  @DisplayName(
      "a status query no worker answers fails with EngineUnavailableException after the query"
          + " timeout")
  void unansweredQuery() {
    env(false);
    // A key workflow on a task queue nobody polls: Temporal holds a query to it until it times out.
    String token = WorkflowIds.keyToken("k");
    KeyWorkflow orphan =
        env.getWorkflowClient()
            .newWorkflowStub(
                KeyWorkflow.class,
                WorkflowOptions.newBuilder()
                    .setWorkflowId("p-" + unique + "/w/" + token)
                    .setTaskQueue("nobody-" + unique)
                    .build());
    WorkflowClient.start(
        orphan::run, new KeyWorkflow.KeyState("w", "k", 60_000, 10, 1_000, List.of(), List.of()));
    TemporalEngine engine = started(engine(), keyed("w", ctx -> {}));
    long start = System.nanoTime();
    assertThatThrownBy(() -> engine.status(new RunId("w:" + token + ":" + UUID.randomUUID())))
        .isInstanceOf(EngineUnavailableException.class)
        .isNotInstanceOf(TransientStoreException.class)
        .hasMessageContaining("no Temporal worker answered")
        .hasMessageContaining("task queue 'q-" + unique + "'");
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(20));
  }

  @Test
  @DisplayName("a stopped engine refuses dead-letter calls with EngineNotRunningException")
  void refusesDeadLetterCallsAfterStop() {
    env(false);
    TemporalEngine engine = started(engine(), keyed("w", ctx -> {}));
    engine.stop(Duration.ofSeconds(5));
    RunId id = new RunId("w:k.k:" + UUID.randomUUID());
    assertThatThrownBy(() -> engine.deadLetters(10))
        .isInstanceOfSatisfying(
            EngineNotRunningException.class,
            e -> assertThat(e.status()).isEqualTo(EngineStatus.STOPPED));
    assertThatThrownBy(() -> engine.discardDeadLetter(id))
        .isInstanceOf(EngineNotRunningException.class);
    assertThatThrownBy(() -> engine.retryDeadLetter(id).toCompletableFuture().join())
        .cause()
        .isInstanceOf(EngineNotRunningException.class);
  }

  @Test
  @DisplayName("the engine's client stays the host's: closing the engine leaves it usable")
  void hostOwnsItsClient() {
    env(false);
    WorkflowClient client = env.getWorkflowClient();
    TemporalEngine engine = started(engine(), keyed("w", ctx -> {}));
    engine.close();
    assertThat(client.getWorkflowServiceStubs().isShutdown()).isFalse();
  }
}
