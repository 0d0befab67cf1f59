package dev.durabledeploy.examples.hostile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.durabledeploy.core.DurableDeploy;
import dev.durabledeploy.engine.executor.ExecutorEngine;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.Store;
import dev.durabledeploy.spi.engine.WorkflowDefinition;
import dev.durabledeploy.spi.events.EventBus;
import dev.durabledeploy.spi.events.OperationEvent;
import dev.durabledeploy.spi.exception.ConfigurationException;
import dev.durabledeploy.spi.outbox.NewEvent;
import dev.durabledeploy.spi.outbox.OutboxDeadLetter;
import dev.durabledeploy.spi.retry.RetryPolicy;
import dev.durabledeploy.store.memory.InMemoryBlobStore;
import dev.durabledeploy.store.memory.InMemoryStore;
import dev.durabledeploy.store.postgres.PostgresStore;
import dev.durabledeploy.store.valkey.ValkeyStore;
import dev.durabledeploy.testkit.fixtures.PostgresExtension;
import dev.durabledeploy.testkit.fixtures.ValkeyExtension;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Outbox dead letters as a host meets them: a downstream that refuses one event, the rest of its
 * site going on, what the host sees (listing, metric, bus event), retry and discard racing each
 * other and the relay, a retried event that fails again, and a route to nothing.
 */
class OutboxDeadLetterHostileTest {

  @RegisterExtension static final PostgresExtension PG = new PostgresExtension();
  @RegisterExtension static final ValkeyExtension VALKEY = new ValkeyExtension();
  static final AtomicInteger SCHEMAS = new AtomicInteger();
  static final SiteId S = SiteId.of("hostile-dl-s");
  static final SiteId T = SiteId.of("hostile-dl-t");
  static final String TYPE = "host.thing";
  static final String WORKFLOW = "host-hook";

  static Stream<Arguments> stores() {
    return Stream.of(
        Arguments.of("memory", (Supplier<Store>) InMemoryStore::new),
        Arguments.of(
            "postgres",
            (Supplier<Store>)
                () ->
                    PostgresStore.builder()
                        .jdbcUrl(PG.jdbcUrl())
                        .username(PG.username())
                        .password(PG.password())
                        .schema("hdl_" + SCHEMAS.incrementAndGet())
                        .migrateOnStart(true)
                        .build()),
        Arguments.of(
            "valkey",
            (Supplier<Store>)
                () ->
                    ValkeyStore.builder()
                        .uri(VALKEY.uri().toString())
                        .namespace(ValkeyExtension.newNamespace())
                        .build()));
  }

  /** What the host's workflow received, per site, in order. */
  final Map<SiteId, List<String>> seen = new ConcurrentHashMap<>();

  DurableDeploy plane(Store store, FlakyEngine engine, SimpleMeterRegistry meters) {
    engine.register(
        WorkflowDefinition.named(WORKFLOW)
            .keyedBy("site")
            .handler(
                ctx ->
                    seen.computeIfAbsent(
                            SiteId.of(ctx.input().get("site")),
                            k -> Collections.synchronizedList(new ArrayList<>()))
                        .add(ctx.input().get("n"))));
    return DurableDeploy.builder()
        .store(store)
        .blobStore(new InMemoryBlobStore())
        .engine(engine)
        .meterRegistry(meters)
        .retryPolicy(
            RetryPolicy.defaults().withBackoff(Duration.ofMillis(1), Duration.ofMillis(10), 2.0))
        .route(TYPE, WORKFLOW)
        .instanceId("hostile-dl")
        .build();
  }

  static long append(Store store, SiteId site, String n, boolean poison) {
    return store
        .outbox()
        .append(
            new NewEvent(
                site, TYPE, Map.of("site", site.value(), "n", n, "poison", poison ? "yes" : "no")));
  }

  List<String> seen(SiteId site) {
    return List.copyOf(seen.getOrDefault(site, List.of()));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("stores")
  void aPoisonEventIsDeadLetteredAndItsSiteGoesOn(String name, Supplier<Store> stores)
      throws Exception {
    Store store = stores.get();
    FlakyEngine engine = new FlakyEngine(ExecutorEngine.builder().build());
    SimpleMeterRegistry meters = new SimpleMeterRegistry();
    ExecutorService pool = Executors.newCachedThreadPool();
    try (DurableDeploy plane = plane(store, engine, meters)) {
      List<OperationEvent.DeadLettered> announced = new CopyOnWriteArrayList<>();
      plane
          .events()
          .subscribe(
              EventBus.topic("operation"),
              e -> {
                if (e instanceof OperationEvent.DeadLettered d) {
                  announced.add(d);
                }
              });
      engine.refuse = s -> s.workflow().equals(WORKFLOW) && "yes".equals(s.input().get("poison"));
      plane.start();
      long e1 = append(store, S, "1", true);
      append(store, S, "2", false);
      append(store, T, "t1", false);
      append(store, S, "3", false);

      await("the site goes on without its poison event")
          .atMost(Duration.ofSeconds(60))
          .until(() -> seen(S).equals(List.of("2", "3")) && seen(T).equals(List.of("t1")));
      List<OutboxDeadLetter> dead = plane.outboxDeadLetters().list(100);
      assertThat(dead).extracting(OutboxDeadLetter::id).containsExactly(e1);
      assertThat(dead.get(0).event().lastError()).contains("downstream refused");
      assertThat(dead.get(0).event().failures()).isEqualTo(12);
      assertThat(dead.get(0).event().site()).isEqualTo(S);
      await().atMost(Duration.ofSeconds(10)).until(() -> store.outbox().stats().undelivered() == 0);
      assertThat(store.outbox().stats().deadLettered()).isEqualTo(1);
      assertThat(meters.counter("durable.outbox.relay.dead.lettered").count()).isEqualTo(1.0);
      await().atMost(Duration.ofSeconds(10)).until(() -> !announced.isEmpty());
      assertThat(announced)
          .singleElement()
          .satisfies(
              d -> {
                assertThat(d.operationId()).isEqualTo("outbox:" + e1);
                assertThat(d.site()).isEqualTo(S);
                assertThat(d.attempts()).isEqualTo(12);
              });

      // Retried while the downstream still refuses: a fresh budget, then dead again, once.
      assertThat(plane.outboxDeadLetters().retry(e1)).isTrue();
      await("dead-lettered again after a fresh budget")
          .atMost(Duration.ofSeconds(60))
          .until(
              () ->
                  store.outbox().stats().deadLettered() == 1
                      && store.outbox().stats().undelivered() == 0);
      assertThat(plane.outboxDeadLetters().list(10).get(0).event().failures()).isEqualTo(12);
      assertThat(seen(S)).containsExactly("2", "3");

      // The downstream is fixed; retry delivers it, after the events delivered meanwhile.
      engine.refuse = s -> false;
      append(store, S, "4", false);
      await().atMost(Duration.ofSeconds(30)).until(() -> seen(S).size() == 3);
      assertThat(plane.outboxDeadLetters().retry(e1)).isTrue();
      await().atMost(Duration.ofSeconds(30)).until(() -> seen(S).size() == 4);
      assertThat(seen(S)).containsExactly("2", "3", "4", "1");
      assertThat(plane.outboxDeadLetters().list(10)).isEmpty();
      assertThat(plane.outboxDeadLetters().retry(e1)).isFalse();
      assertThat(plane.outboxDeadLetters().discard(e1)).isFalse();

      // Retry and discard of one dead letter race: exactly one wins, and what it says holds.
      engine.refuse = s -> "yes".equals(s.input().get("poison"));
      List<Long> poisoned = new ArrayList<>();
      for (int i = 0; i < 5; i++) {
        poisoned.add(append(store, T, "p" + i, true));
      }
      await()
          .atMost(Duration.ofSeconds(60))
          .until(() -> store.outbox().stats().deadLettered() == 5);
      engine.refuse = s -> false;
      int retriedWins = 0;
      for (long id : poisoned) {
        CountDownLatch go = new CountDownLatch(1);
        Future<Boolean> retry =
            pool.submit(
                () -> {
                  go.await();
                  return plane.outboxDeadLetters().retry(id);
                });
        Future<Boolean> discard =
            pool.submit(
                () -> {
                  go.await();
                  return plane.outboxDeadLetters().discard(id);
                });
        go.countDown();
        boolean r = retry.get();
        boolean d = discard.get();
        assertThat(r ^ d)
            .as("exactly one of retry (%s) and discard (%s) wins for %s", r, d, id)
            .isTrue();
        retriedWins += r ? 1 : 0;
      }
      int expected = 1 + retriedWins;
      await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> store.outbox().stats().undelivered() == 0 && seen(T).size() == expected);
      assertThat(store.outbox().stats().deadLettered()).isZero();
      assertThat(plane.outboxDeadLetters().list(10)).isEmpty();
    } finally {
      pool.shutdownNow();
      store.close();
    }
  }

  @Test
  @org.junit.jupiter.api.DisplayName(
      "a start refused for a route to an unknown workflow registers nothing: the host registers"
          + " the workflow and starts again")
  void aRouteToAnUnknownWorkflowIsRefusedAndNothingRuns() {
    InMemoryStore store = new InMemoryStore();
    ExecutorEngine engine = ExecutorEngine.builder().build();
    DurableDeploy plane =
        DurableDeploy.builder()
            .store(store)
            .blobStore(new InMemoryBlobStore())
            .engine(engine)
            .route("deploy.created", "notify-slack")
            .instanceId("hostile-route")
            .build();
    try {
      assertThatThrownBy(plane::start)
          .isInstanceOfSatisfying(
              ConfigurationException.class,
              e ->
                  assertThat(e.getMessage())
                      .contains("notify-slack")
                      .contains("deploy.created")
                      .contains("gc-site"));
      assertThat(engine.engineStatus()).isEqualTo(dev.durabledeploy.spi.engine.EngineStatus.NEW);
      assertThat(engine.registeredWorkflows()).contains(java.util.Set.of());
      // The host registers the workflow it forgot and starts again: the plane must come up.
      engine.register(WorkflowDefinition.named("notify-slack").handler(ctx -> {}));
      plane.start();
      assertThat(engine.engineStatus())
          .isEqualTo(dev.durabledeploy.spi.engine.EngineStatus.RUNNING);
    } finally {
      plane.close();
    }
  }
}
