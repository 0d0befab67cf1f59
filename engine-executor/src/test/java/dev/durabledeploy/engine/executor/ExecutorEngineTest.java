package dev.durabledeploy.engine.executor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.durabledeploy.spi.engine.CronSchedule;
import dev.durabledeploy.spi.engine.EngineStatus;
import dev.durabledeploy.spi.engine.RunHandle;
import dev.durabledeploy.spi.engine.RunId;
import dev.durabledeploy.spi.engine.RunState;
import dev.durabledeploy.spi.engine.Submission;
import dev.durabledeploy.spi.engine.WorkflowEngine;
import dev.durabledeploy.spi.events.OperationEvent;
import dev.durabledeploy.spi.exception.EngineNotRunningException;
import dev.durabledeploy.spi.exception.EngineUnavailableException;
import dev.durabledeploy.spi.exception.InvalidInputException;
import dev.durabledeploy.spi.exception.TransientStoreException;
import dev.durabledeploy.testkit.MutableClock;
import dev.durabledeploy.testkit.RecordingEventBus;
import dev.durabledeploy.testkit.tck.WorkflowEngineContract;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

class ExecutorEngineTest extends WorkflowEngineContract {

  private final RecordingEventBus bus = new RecordingEventBus();
  private final SimpleMeterRegistry meters = new SimpleMeterRegistry();
  private final MutableClock clock = new MutableClock(Instant.now());

  @Override
  protected WorkflowEngine createEngine() {
    return ExecutorEngine.builder().events(bus).meterRegistry(meters).clock(clock).build();
  }

  @Test
  @DisplayName("a submission is accepted when its run finished, so the relay acks only then")
  void acceptsOnCompletion() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    engine.register(workflow("gated", ctx -> release.await()));
    engine.start();
    CompletableFuture<RunHandle> stage =
        engine.submit(Submission.of("gated", Map.of("key", "a"))).toCompletableFuture();
    assertThat(stage).isNotDone();
    release.countDown();
    RunHandle handle = stage.get(30, TimeUnit.SECONDS);
    assertThat(engine.status(handle.id()).orElseThrow().state()).isEqualTo(RunState.SUCCEEDED);
  }

  @Test
  @DisplayName(
      "runs that did not finish at stop fail their submission, so their events are redelivered")
  void stopFailsUnfinishedSubmissions() throws Exception {
    CountDownLatch started = new CountDownLatch(1);
    engine.register(
        workflow(
            "blocking",
            ctx -> {
              started.countDown();
              new CountDownLatch(1).await();
            }));
    engine.start();
    List<CompletableFuture<RunHandle>> stages = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      stages.add(
          engine.submit(Submission.of("blocking", Map.of("key", "k"))).toCompletableFuture());
    }
    assertThat(started.await(30, TimeUnit.SECONDS)).isTrue();
    engine.stop(Duration.ofMillis(100));
    for (CompletableFuture<RunHandle> stage : stages) {
      assertThat(stage)
          .failsWithin(Duration.ZERO)
          .withThrowableOfType(java.util.concurrent.ExecutionException.class)
          .havingCause()
          .isInstanceOfSatisfying(
              EngineNotRunningException.class,
              e -> assertThat(e.status()).isEqualTo(EngineStatus.STOPPING));
    }
  }

  @Test
  @DisplayName(
      "past maxQueuedRuns a submission fails with EngineUnavailableException (back-pressure)")
  void backPressure() throws Exception {
    engine.close();
    engine = ExecutorEngine.builder().workers(1).maxQueuedRuns(2).build();
    CountDownLatch release = new CountDownLatch(1);
    CountDownLatch started = new CountDownLatch(1);
    engine.register(
        workflow(
            "slow",
            ctx -> {
              started.countDown();
              release.await();
            }));
    engine.start();
    engine.submit(Submission.of("slow", Map.of("key", "a")));
    assertThat(started.await(30, TimeUnit.SECONDS)).isTrue();
    engine.submit(Submission.of("slow", Map.of("key", "b")));
    engine.submit(Submission.of("slow", Map.of("key", "c")));
    try {
      assertThatThrownBy(
              () ->
                  engine
                      .submit(Submission.of("slow", Map.of("key", "d")))
                      .toCompletableFuture()
                      .join())
          .isInstanceOf(CompletionException.class)
          .cause()
          .isInstanceOf(EngineUnavailableException.class)
          .isNotInstanceOf(TransientStoreException.class)
          .hasMessageContaining("2 queued runs, its maximum");
    } finally {
      release.countDown();
    }
  }

  @Test
  @DisplayName("a dead letter whose retry the engine refuses stays listed, in its place")
  void refusedRetryKeepsTheDeadLetter() {
    engine.register(
        workflow(
            "broken",
            ctx -> {
              throw new IllegalStateException("bug " + ctx.input().get("n"));
            }));
    engine.start();
    RunId first = submit("broken", Map.of("key", "a", "n", "1")).id();
    RunId second = submit("broken", Map.of("key", "b", "n", "2")).id();
    awaitTerminal(first);
    awaitTerminal(second);
    engine.stop(Duration.ofSeconds(5));
    assertThatThrownBy(() -> engine.retryDeadLetter(first).toCompletableFuture().join())
        .cause()
        .isInstanceOf(EngineNotRunningException.class);
    assertThat(engine.deadLetters(10)).extracting(d -> d.id()).containsExactly(first, second);
  }

  @Test
  @DisplayName("cron schedules fire at the next matching minute of the injected clock")
  void cron() {
    AtomicInteger fired = new AtomicInteger();
    engine.register(workflow("nightly", ctx -> fired.incrementAndGet()));
    clock.set(Instant.parse("2026-01-15T09:59:59.700Z"));
    engine.schedule(CronSchedule.utc("every-minute", "nightly", "* * * * *"));
    engine.start();
    await().atMost(Duration.ofSeconds(10)).until(() -> fired.get() >= 1);
    assertThat(engine.unschedule("every-minute")).isTrue();
    assertThatThrownBy(() -> engine.schedule(CronSchedule.utc("bad", "nightly", "61 * * * *")))
        .isInstanceOfSatisfying(
            InvalidInputException.class, e -> assertThat(e.field()).isEqualTo("cron"));
  }

  @Test
  @DisplayName("each run is announced on the bus and measured; retries are counted")
  void eventsAndMeters() {
    AtomicInteger calls = new AtomicInteger();
    engine.register(
        workflow(
            "observed",
            ctx -> {
              if (calls.incrementAndGet() == 1) {
                throw new IOException("once");
              }
            }));
    engine.start();
    RunHandle handle = submit("observed", Map.of("key", "a", "site", "site-a"));
    awaitTerminal(handle.id());
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () ->
                assertThat(bus.events(OperationEvent.class))
                    .extracting(e -> e.getClass().getSimpleName())
                    .containsExactly("Started", "Retrying", "Succeeded"));
    assertThat(bus.events(OperationEvent.class).get(0).site().value()).isEqualTo("site-a");
    assertThat(meters.get("durable.engine.retries").counter().count()).isEqualTo(1);
    assertThat(meters.get("durable.engine.run").tag("outcome", "success").timer().count())
        .isEqualTo(1);
  }

  @Test
  @DisplayName("uses virtual threads exactly when the JVM offers them")
  void threads() {
    boolean jvmHasVirtualThreads = Runtime.version().feature() >= 21;
    assertThat(((ExecutorEngine) engine).usesVirtualThreads()).isEqualTo(jvmHasVirtualThreads);
  }
}
