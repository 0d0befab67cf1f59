package dev.durabledeploy.testkit.tck;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.durabledeploy.spi.engine.DeadLetter;
import dev.durabledeploy.spi.engine.Debounce;
import dev.durabledeploy.spi.engine.EngineStatus;
import dev.durabledeploy.spi.engine.RunHandle;
import dev.durabledeploy.spi.engine.RunId;
import dev.durabledeploy.spi.engine.RunState;
import dev.durabledeploy.spi.engine.RunStatus;
import dev.durabledeploy.spi.engine.Submission;
import dev.durabledeploy.spi.engine.WorkflowDefinition;
import dev.durabledeploy.spi.engine.WorkflowEngine;
import dev.durabledeploy.spi.engine.WorkflowHandler;
import dev.durabledeploy.spi.exception.ConfigurationException;
import dev.durabledeploy.spi.exception.EngineNotRunningException;
import dev.durabledeploy.spi.exception.InvalidInputException;
import dev.durabledeploy.spi.retry.RetryPolicy;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The contract of {@link WorkflowEngine}: runs per key never overlap and keep submission order,
 * transient failures are retried, exhausted runs are dead-lettered without blocking their key (E5),
 * idempotency keys and debounce collapse duplicates.
 */
public abstract class WorkflowEngineContract {

  /** Fast retries so tests stay short. */
  protected static final RetryPolicy FAST_RETRY =
      RetryPolicy.defaults()
          .withMaxAttempts(3)
          .withBackoff(Duration.ofMillis(1), Duration.ofMillis(5), 2.0);

  protected static final Duration WAIT = Duration.ofSeconds(30);

  protected WorkflowEngine engine;

  /** A new, unstarted engine. The contract registers workflows, starts and closes it. */
  protected abstract WorkflowEngine createEngine();

  @BeforeEach
  void createTheEngine() {
    engine = createEngine();
  }

  @AfterEach
  void closeTheEngine() {
    engine.close();
  }

  protected WorkflowDefinition workflow(String name, WorkflowHandler handler) {
    return WorkflowDefinition.named(name).keyedBy("key").retryPolicy(FAST_RETRY).handler(handler);
  }

  protected RunHandle submit(String workflow, Map<String, String> input) {
    return engine
        .submit(Submission.of(workflow, input))
        .toCompletableFuture()
        .orTimeout(WAIT.toSeconds(), TimeUnit.SECONDS)
        .join();
  }

  protected RunStatus awaitTerminal(RunId id) {
    return await()
        .atMost(WAIT)
        .until(() -> engine.status(id).orElseThrow(), s -> s.state().isTerminal());
  }

  @Test
  @DisplayName("runs a submitted workflow with its input and reports it SUCCEEDED")
  void runs() {
    List<Map<String, String>> seen = Collections.synchronizedList(new ArrayList<>());
    engine.register(workflow("echo", ctx -> seen.add(ctx.input())));
    engine.start();
    RunHandle handle = submit("echo", Map.of("key", "a", "x", "1"));
    assertThat(handle.deduplicated()).isFalse();
    RunStatus status = awaitTerminal(handle.id());
    assertThat(status.state()).isEqualTo(RunState.SUCCEEDED);
    assertThat(status.attempts()).isEqualTo(1);
    assertThat(status.concurrencyKey()).isEqualTo("a");
    assertThat(seen).containsExactly(Map.of("key", "a", "x", "1"));
  }

  @Test
  @DisplayName("an unknown workflow is refused naming the field; a duplicate name too")
  void unknownAndDuplicate() {
    engine.register(workflow("known", ctx -> {}));
    assertThatThrownBy(() -> engine.register(workflow("known", ctx -> {})))
        .isInstanceOf(ConfigurationException.class);
    engine.start();
    assertThatThrownBy(
            () -> engine.submit(Submission.of("unknown", Map.of())).toCompletableFuture().join())
        .isInstanceOf(CompletionException.class)
        .hasCauseInstanceOf(InvalidInputException.class);
  }

  @Test
  @DisplayName("lists the workflows registered on it, before and after start")
  void registeredWorkflows() {
    engine.register(workflow("first", ctx -> {}));
    assertThat(engine.registeredWorkflows()).contains(java.util.Set.of("first"));
    engine.register(workflow("second", ctx -> {}));
    engine.start();
    assertThat(engine.registeredWorkflows()).contains(java.util.Set.of("first", "second"));
  }

  @Test
  @DisplayName("runs of one key never overlap and keep submission order; keys run independently")
  void perKeySerialisation() {
    Map<String, AtomicInteger> active = new ConcurrentHashMap<>();
    Map<String, List<Integer>> order = new ConcurrentHashMap<>();
    AtomicInteger overlaps = new AtomicInteger();
    engine.register(
        workflow(
            "serial",
            ctx -> {
              String key = ctx.concurrencyKey();
              if (active.computeIfAbsent(key, k -> new AtomicInteger()).incrementAndGet() > 1) {
                overlaps.incrementAndGet();
              }
              Thread.yield();
              order
                  .computeIfAbsent(key, k -> Collections.synchronizedList(new ArrayList<>()))
                  .add(Integer.parseInt(ctx.input().get("n")));
              active.get(key).decrementAndGet();
            }));
    engine.start();
    List<RunId> ids = new ArrayList<>();
    for (int n = 0; n < 20; n++) {
      for (String key : List.of("a", "b", "c")) {
        ids.add(submit("serial", Map.of("key", key, "n", Integer.toString(n))).id());
      }
    }
    ids.forEach(this::awaitTerminal);
    assertThat(overlaps.get()).isZero();
    assertThat(order).hasSize(3);
    for (List<Integer> perKey : order.values()) {
      assertThat(perKey).hasSize(20).isSorted();
    }
  }

  @Test
  @DisplayName("a handler that fails twice then succeeds is retried and succeeds on attempt 3")
  void retries() {
    AtomicInteger calls = new AtomicInteger();
    engine.register(
        workflow(
            "flaky",
            ctx -> {
              if (calls.incrementAndGet() <= 2) {
                throw new IOException("transient " + ctx.attempt());
              }
            }));
    engine.start();
    RunStatus status = awaitTerminal(submit("flaky", Map.of("key", "a")).id());
    assertThat(status.state()).isEqualTo(RunState.SUCCEEDED);
    assertThat(status.attempts()).isEqualTo(3);
    assertThat(calls.get()).isEqualTo(3);
  }

  @Test
  @DisplayName(
      "an exhausted run is dead-lettered with its last error and never blocks its key (E5)")
  void deadLetterDoesNotBlock() {
    List<String> ran = Collections.synchronizedList(new ArrayList<>());
    engine.register(
        workflow(
            "poison",
            ctx -> {
              if (ctx.input().containsKey("poison")) {
                throw new IOException("still broken");
              }
              ran.add(ctx.input().get("n"));
            }));
    engine.start();
    RunId poisoned = submit("poison", Map.of("key", "a", "poison", "yes")).id();
    RunId after = submit("poison", Map.of("key", "a", "n", "2")).id();
    assertThat(awaitTerminal(poisoned).state()).isEqualTo(RunState.DEAD_LETTERED);
    assertThat(awaitTerminal(after).state()).isEqualTo(RunState.SUCCEEDED);
    assertThat(ran).containsExactly("2");
    List<DeadLetter> letters = engine.deadLetters(10);
    assertThat(letters).hasSize(1);
    DeadLetter letter = letters.get(0);
    assertThat(letter.id()).isEqualTo(poisoned);
    assertThat(letter.attempts()).isEqualTo(3);
    assertThat(letter.lastError()).contains("still broken");
    assertThat(letter.input()).containsEntry("poison", "yes");
  }

  @Test
  @DisplayName("a permanent failure is dead-lettered at once, without retries")
  void permanentFailure() {
    AtomicInteger calls = new AtomicInteger();
    engine.register(
        workflow(
            "broken",
            ctx -> {
              calls.incrementAndGet();
              throw new IllegalArgumentException("bug");
            }));
    engine.start();
    RunStatus status = awaitTerminal(submit("broken", Map.of("key", "a")).id());
    assertThat(status.state()).isEqualTo(RunState.DEAD_LETTERED);
    assertThat(calls.get()).isEqualTo(1);
  }

  @Test
  @DisplayName("a handler's error reaches status and the dead letter with credentials masked (I2)")
  void redactsErrors() {
    engine.register(
        workflow(
            "leaky",
            ctx -> {
              throw new IllegalStateException("cannot reach postgres://bob:hunter2@db:5432/x");
            }));
    engine.start();
    RunStatus dead = awaitTerminal(submit("leaky", Map.of("key", "a")).id());
    assertThat(dead.state()).isEqualTo(RunState.DEAD_LETTERED);
    assertThat(dead.lastError()).contains("postgres://***@db").doesNotContain("hunter2");
    assertThat(engine.deadLetters(10))
        .singleElement()
        .satisfies(d -> assertThat(d.lastError()).doesNotContain("hunter2"));
  }

  @Test
  @DisplayName("dead letters can be retried as a new run or discarded")
  void retryAndDiscard() {
    AtomicInteger calls = new AtomicInteger();
    engine.register(
        workflow(
            "second-time",
            ctx -> {
              if (calls.incrementAndGet() == 1) {
                throw new IllegalStateException("first time fails");
              }
            }));
    engine.start();
    RunId first = submit("second-time", Map.of("key", "a")).id();
    awaitTerminal(first);
    RunHandle retried =
        engine.retryDeadLetter(first).toCompletableFuture().orTimeout(30, TimeUnit.SECONDS).join();
    assertThat(retried.id()).isNotEqualTo(first);
    assertThat(awaitTerminal(retried.id()).state()).isEqualTo(RunState.SUCCEEDED);
    assertThat(engine.deadLetters(10)).isEmpty();

    RunId other = submit("second-time", Map.of("key", "b", "fail", "x")).id();
    assertThat(awaitTerminal(other).state()).isEqualTo(RunState.SUCCEEDED);
    calls.set(0);
    RunId again = submit("second-time", Map.of("key", "c")).id();
    awaitTerminal(again);
    assertThat(engine.discardDeadLetter(again)).isTrue();
    assertThat(engine.discardDeadLetter(again)).isFalse();
    assertThat(engine.deadLetters(10)).isEmpty();
  }

  @Test
  @DisplayName("a second submission with the same idempotency key returns the first run")
  void idempotencyKey() {
    AtomicInteger calls = new AtomicInteger();
    engine.register(workflow("once", ctx -> calls.incrementAndGet()));
    engine.start();
    Submission s = new Submission("once", Map.of("key", "a"), "event-42");
    RunHandle first = engine.submit(s).toCompletableFuture().join();
    awaitTerminal(first.id());
    RunHandle second = engine.submit(s).toCompletableFuture().join();
    assertThat(second.id()).isEqualTo(first.id());
    assertThat(second.deduplicated()).isTrue();
    assertThat(calls.get()).isEqualTo(1);
  }

  @Test
  @DisplayName("an idempotency key is scoped to its workflow: another workflow's run still starts")
  void idempotencyKeyPerWorkflow() {
    AtomicInteger calls = new AtomicInteger();
    engine.register(workflow("first", ctx -> calls.incrementAndGet()));
    engine.register(workflow("second", ctx -> calls.incrementAndGet()));
    engine.start();
    RunHandle first =
        engine
            .submit(new Submission("first", Map.of("key", "a"), "event-42"))
            .toCompletableFuture()
            .join();
    RunHandle second =
        engine
            .submit(new Submission("second", Map.of("key", "a"), "event-42"))
            .toCompletableFuture()
            .join();
    awaitTerminal(first.id());
    awaitTerminal(second.id());
    assertThat(second.id()).isNotEqualTo(first.id());
    assertThat(second.deduplicated()).isFalse();
    assertThat(calls.get()).isEqualTo(2);
  }

  @Test
  @DisplayName("a debounced burst of 100 submissions becomes one run with the latest input")
  void debounce() {
    List<String> ran = Collections.synchronizedList(new ArrayList<>());
    engine.register(
        WorkflowDefinition.named("debounced")
            .keyedBy("key")
            .retryPolicy(FAST_RETRY)
            .debounce(new Debounce(Duration.ofMillis(300), Duration.ofSeconds(20)))
            .handler(ctx -> ran.add(ctx.input().get("n"))));
    engine.start();
    RunId id = null;
    for (int n = 0; n < 100; n++) {
      RunHandle h = submit("debounced", Map.of("key", "a", "n", Integer.toString(n)));
      if (id == null) {
        id = h.id();
      } else {
        assertThat(h.id()).isEqualTo(id);
        assertThat(h.deduplicated()).isTrue();
      }
    }
    awaitTerminal(id);
    assertThat(ran).containsExactly("99");
  }

  @Test
  @DisplayName("before start, a submission is refused with EngineNotRunningException (NEW)")
  void refusesBeforeStart() {
    engine.register(workflow("w", ctx -> {}));
    assertThatThrownBy(
            () -> engine.submit(Submission.of("w", Map.of())).toCompletableFuture().join())
        .isInstanceOf(CompletionException.class)
        .cause()
        .isInstanceOfSatisfying(
            EngineNotRunningException.class,
            e -> assertThat(e.status()).isEqualTo(EngineStatus.NEW));
  }

  @Test
  @DisplayName("after stop, submissions are refused with EngineNotRunningException (STOPPED)")
  void refusesAfterStop() {
    engine.register(workflow("w", ctx -> {}));
    engine.start();
    engine.stop(Duration.ofSeconds(5));
    assertThatThrownBy(
            () -> engine.submit(Submission.of("w", Map.of())).toCompletableFuture().join())
        .isInstanceOf(CompletionException.class)
        .cause()
        .isInstanceOfSatisfying(
            EngineNotRunningException.class,
            e -> assertThat(e.status()).isEqualTo(EngineStatus.STOPPED));
  }

  @Test
  @DisplayName("a key with 10,000 queued runs does not starve a key with one")
  void fairness() {
    AtomicInteger heavyDone = new AtomicInteger();
    engine.register(
        workflow(
            "fair",
            ctx -> {
              if (ctx.concurrencyKey().equals("heavy")) {
                java.util.concurrent.locks.LockSupport.parkNanos(50_000);
                heavyDone.incrementAndGet();
              }
            }));
    engine.start();
    for (int i = 0; i < 10_000; i++) {
      engine.submit(Submission.of("fair", Map.of("key", "heavy")));
    }
    long start = System.nanoTime();
    RunId light =
        engine
            .submit(Submission.of("fair", Map.of("key", "light")))
            .toCompletableFuture()
            .orTimeout(30, TimeUnit.SECONDS)
            .join()
            .id();
    RunStatus status = awaitTerminal(light);
    Duration waited = Duration.ofNanos(System.nanoTime() - start);
    assertThat(status.state()).isEqualTo(RunState.SUCCEEDED);
    assertThat(heavyDone.get()).isLessThan(5_000);
    assertThat(waited).isLessThan(Duration.ofSeconds(5));
  }

  @Test
  @DisplayName("stop hands back runs that did not finish: none of them is reported SUCCEEDED")
  void stopHandsBack() throws Exception {
    java.util.concurrent.CountDownLatch started = new java.util.concurrent.CountDownLatch(1);
    java.util.concurrent.CountDownLatch never = new java.util.concurrent.CountDownLatch(1);
    AtomicInteger ran = new AtomicInteger();
    engine.register(
        workflow(
            "slow",
            ctx -> {
              ran.incrementAndGet();
              started.countDown();
              never.await();
            }));
    engine.start();
    List<java.util.concurrent.CompletableFuture<RunHandle>> stages = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      stages.add(engine.submit(Submission.of("slow", Map.of("key", "k"))).toCompletableFuture());
    }
    assertThat(started.await(30, TimeUnit.SECONDS)).isTrue();
    engine.stop(Duration.ofMillis(200));
    assertThat(ran.get()).isEqualTo(1);
    List<RunId> ids = new ArrayList<>();
    for (var stage : stages) {
      if (stage.isDone() && !stage.isCompletedExceptionally()) {
        ids.add(stage.join().id());
      }
    }
    for (RunId id : ids) {
      engine.status(id).ifPresent(s -> assertThat(s.state()).isNotEqualTo(RunState.SUCCEEDED));
    }
    assertThat(engine.engineStatus()).isEqualTo(EngineStatus.STOPPED);
  }
}
