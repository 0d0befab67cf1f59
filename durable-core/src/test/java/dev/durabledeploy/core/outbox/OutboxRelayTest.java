package dev.durabledeploy.core.outbox;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.engine.RunState;
import dev.durabledeploy.spi.engine.RunStatus;
import dev.durabledeploy.spi.engine.WorkflowDefinition;
import dev.durabledeploy.spi.events.Subscription;
import dev.durabledeploy.spi.outbox.NewEvent;
import dev.durabledeploy.spi.outbox.Outbox;
import dev.durabledeploy.spi.outbox.OutboxEvent;
import dev.durabledeploy.spi.retry.RetryPolicy;
import dev.durabledeploy.store.memory.InMemoryStore;
import dev.durabledeploy.store.memory.InMemoryWorkflowEngine;
import dev.durabledeploy.testkit.ForwardingOutbox;
import dev.durabledeploy.testkit.MutableClock;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

@DisplayName("OutboxRelay")
class OutboxRelayTest {

  private static final RetryPolicy FAST =
      RetryPolicy.defaults()
          .withMaxAttempts(3)
          .withBackoff(Duration.ofMillis(1), Duration.ofMillis(5), 2);

  private final List<OutboxRelay> relays = new ArrayList<>();
  private final InMemoryWorkflowEngine engine = new InMemoryWorkflowEngine();
  private final SimpleMeterRegistry meters = new SimpleMeterRegistry();

  @AfterEach
  void stop() {
    relays.forEach(r -> r.stop(Duration.ofSeconds(5)));
    engine.close();
  }

  private OutboxRelay relay(Outbox outbox, String owner, java.time.Clock clock, Duration poll) {
    OutboxRelay relay =
        OutboxRelay.builder(outbox, engine)
            .owner(owner)
            .clock(clock)
            .retryPolicy(FAST)
            .meterRegistry(meters)
            .pollInterval(poll)
            .leaseTtl(Duration.ofSeconds(30))
            .route("test.event", "record")
            .build();
    relays.add(relay);
    return relay;
  }

  private static NewEvent event(SiteId site, int seq) {
    return new NewEvent(
        site, "test.event", Map.of("site", site.value(), "seq", Integer.toString(seq)));
  }

  @Test
  @DisplayName(
      "10,000 events of 100 sites from 8 producers reach their workflow once each, in order per site, through 3 relays")
  void manyEvents() throws Exception {
    InMemoryStore store = new InMemoryStore();
    Map<String, List<Integer>> handled = new ConcurrentHashMap<>();
    Map<String, Integer> perEvent = new ConcurrentHashMap<>();
    engine.register(
        WorkflowDefinition.named("record")
            .keyedBy("site")
            .retryPolicy(FAST)
            .handler(
                ctx -> {
                  handled
                      .computeIfAbsent(
                          ctx.input().get("site"),
                          s -> Collections.synchronizedList(new ArrayList<>()))
                      .add(Integer.parseInt(ctx.input().get("seq")));
                  perEvent.merge(ctx.input().get(OutboxRelay.INPUT_EVENT_ID), 1, Integer::sum);
                }));
    engine.start();
    for (int i = 0; i < 3; i++) {
      relay(store.outbox(), "relay-" + i, java.time.Clock.systemUTC(), Duration.ofMillis(200))
          .start();
    }
    ExecutorService producers = Executors.newFixedThreadPool(8);
    try {
      List<Future<?>> futures = new ArrayList<>();
      for (int p = 0; p < 8; p++) {
        int producer = p;
        futures.add(
            producers.submit(
                () -> {
                  for (int seq = 0; seq < 100; seq++) {
                    for (int s = producer; s < 100; s += 8) {
                      store.outbox().append(event(SiteId.of("site-" + s), seq));
                    }
                  }
                }));
      }
      for (Future<?> f : futures) {
        f.get(60, TimeUnit.SECONDS);
      }
    } finally {
      producers.shutdown();
    }
    await()
        .atMost(Duration.ofSeconds(120))
        .until(() -> handled.values().stream().mapToInt(List::size).sum() >= 10_000);
    await().atMost(Duration.ofSeconds(30)).until(() -> store.outbox().stats().undelivered() == 0);
    assertThat(handled).hasSize(100);
    for (List<Integer> seqs : handled.values()) {
      List<Integer> expected = new ArrayList<>();
      for (int i = 0; i < 100; i++) {
        expected.add(i);
      }
      assertThat(seqs).containsExactlyElementsOf(expected);
    }
    assertThat(perEvent).hasSize(10_000);
    assertThat(perEvent.values()).allMatch(n -> n == 1);
    assertThat(meters.get("durable.outbox.relay.delivered").counter().count()).isEqualTo(10_000);
  }

  @Test
  @DisplayName(
      "a handler that throws twice then succeeds is delivered once, with 2 retries recorded")
  void flakyHandler() {
    InMemoryStore store = new InMemoryStore();
    AtomicInteger calls = new AtomicInteger();
    engine.register(
        WorkflowDefinition.named("record")
            .keyedBy("site")
            .retryPolicy(FAST)
            .handler(
                ctx -> {
                  if (calls.incrementAndGet() <= 2) {
                    throw new IOException("flaky");
                  }
                }));
    engine.start();
    store.outbox().append(event(SiteId.of("a"), 0));
    OutboxRelay relay =
        relay(store.outbox(), "r", java.time.Clock.systemUTC(), Duration.ofMillis(100));
    assertThat(relay.relayOnce()).isEqualTo(1);
    await().atMost(Duration.ofSeconds(20)).until(() -> calls.get() == 3);
    RunStatus run = engine.allRuns().get(0);
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> engine.status(run.id()).orElseThrow().state() == RunState.SUCCEEDED);
    assertThat(engine.status(run.id()).orElseThrow().attempts()).isEqualTo(3);
    assertThat(store.outbox().stats().undelivered()).isZero();
    assertThat(meters.get("durable.outbox.relay.delivered").counter().count()).isEqualTo(1);
  }

  @Test
  @DisplayName("a poison event is dead-lettered and the rest of its site continues")
  void poison() {
    InMemoryStore store = new InMemoryStore();
    List<String> ok = Collections.synchronizedList(new ArrayList<>());
    engine.register(
        WorkflowDefinition.named("record")
            .keyedBy("site")
            .retryPolicy(FAST)
            .handler(
                ctx -> {
                  if (ctx.input().get("seq").equals("0")) {
                    throw new IllegalStateException("poison");
                  }
                  ok.add(ctx.input().get("seq"));
                }));
    engine.start();
    SiteId site = SiteId.of("a");
    for (int i = 0; i < 3; i++) {
      store.outbox().append(event(site, i));
    }
    relay(store.outbox(), "r", java.time.Clock.systemUTC(), Duration.ofMillis(100)).relayOnce();
    await().atMost(Duration.ofSeconds(20)).until(() -> ok.size() == 2);
    assertThat(ok).containsExactly("1", "2");
    assertThat(engine.deadLetters(10)).hasSize(1);
    assertThat(engine.deadLetters(10).get(0).input()).containsEntry("seq", "0");
  }

  @Test
  @DisplayName("an event whose dispatch fails is retried later and holds back its site only")
  void dispatchFailure() {
    InMemoryStore store = new InMemoryStore();
    List<String> handled = Collections.synchronizedList(new ArrayList<>());
    engine.register(
        WorkflowDefinition.named("record")
            .keyedBy("site")
            .handler(ctx -> handled.add(ctx.input().get("site") + ctx.input().get("seq"))));
    engine.start();
    OutboxRelay relay =
        OutboxRelay.builder(store.outbox(), engine)
            .owner("r")
            .retryPolicy(FAST)
            .meterRegistry(meters)
            .route("test.event", "record")
            .route("broken.event", "no-such-workflow")
            .build();
    relays.add(relay);
    SiteId a = SiteId.of("a");
    SiteId b = SiteId.of("b");
    store.outbox().append(new NewEvent(a, "broken.event", Map.of("site", "a", "seq", "0")));
    store.outbox().append(event(a, 1));
    store.outbox().append(event(b, 0));
    assertThat(relay.relayOnce()).isEqualTo(3);
    await().atMost(Duration.ofSeconds(20)).until(() -> handled.contains("b0"));
    assertThat(handled).containsExactly("b0");
    assertThat(store.outbox().stats().undelivered()).isEqualTo(2);
    List<OutboxEvent> later =
        await()
            .atMost(Duration.ofSeconds(10))
            .until(
                () -> store.outbox().claim("peek", 10, Duration.ofSeconds(1)), l -> !l.isEmpty());
    assertThat(later.get(0).lastError()).contains("no-such-workflow");
    assertThat(meters.get("durable.outbox.relay.failed").counter().count()).isEqualTo(1);
  }

  @Test
  @DisplayName(
      "an event whose dispatch fails 12 times is dead-lettered and stops holding back its site")
  void deadLettersAfterTheBudget() {
    MutableClock clock = new MutableClock();
    InMemoryStore store = new InMemoryStore(clock);
    List<String> handled = Collections.synchronizedList(new ArrayList<>());
    engine.register(
        WorkflowDefinition.named("record")
            .keyedBy("site")
            .handler(ctx -> handled.add(ctx.input().get("seq"))));
    engine.start();
    OutboxRelay relay =
        OutboxRelay.builder(store.outbox(), engine)
            .owner("r")
            .clock(clock)
            .retryPolicy(FAST)
            .meterRegistry(meters)
            .route("test.event", "record")
            .route("broken.event", "no-such-workflow")
            .build();
    relays.add(relay);
    SiteId a = SiteId.of("a");
    store.outbox().append(new NewEvent(a, "broken.event", Map.of("site", "a", "seq", "0")));
    store.outbox().append(event(a, 1));
    for (int failure = 1; failure < 12; failure++) {
      assertThat(relay.relayOnce()).isEqualTo(2);
      clock.advance(Duration.ofHours(1));
    }
    // Eleven failures: the broken event still holds back its site.
    assertThat(handled).isEmpty();
    assertThat(meters.get("durable.outbox.relay.failed").counter().count()).isEqualTo(11);
    relay.relayOnce();
    await().atMost(Duration.ofSeconds(10)).until(() -> handled.contains("1"));
    assertThat(handled).containsExactly("1");
    assertThat(store.outbox().stats().undelivered()).isZero();
    // The twelfth failure dead-lettered it in the outbox, with its last error.
    assertThat(store.outbox().deadLetters(10))
        .singleElement()
        .satisfies(
            letter -> {
              assertThat(letter.event().type()).isEqualTo("broken.event");
              assertThat(letter.event().failures()).isEqualTo(12);
              assertThat(letter.event().lastError()).contains("no-such-workflow");
            });
    assertThat(meters.get("durable.outbox.relay.failed").counter().count()).isEqualTo(11);
    assertThat(meters.get("durable.outbox.relay.dead.lettered").counter().count()).isEqualTo(1);
  }

  @Test
  @DisplayName("a batch whose relay died without acking is redelivered after the lease expires")
  void deadRelayRedelivered() {
    MutableClock clock = new MutableClock();
    InMemoryStore store = new InMemoryStore(clock);
    List<String> handled = Collections.synchronizedList(new ArrayList<>());
    engine.register(
        WorkflowDefinition.named("record")
            .keyedBy("site")
            .handler(ctx -> handled.add(ctx.input().get("seq"))));
    engine.start();
    store.outbox().append(event(SiteId.of("a"), 0));
    store.outbox().append(event(SiteId.of("a"), 1));
    // A relay claims the batch and dies before dispatching or acking it.
    assertThat(store.outbox().claim("relay-dead", 100, Duration.ofSeconds(30))).hasSize(2);
    OutboxRelay survivor = relay(store.outbox(), "relay-alive", clock, Duration.ofMillis(50));
    assertThat(survivor.relayOnce()).isZero();
    clock.advance(Duration.ofSeconds(30));
    assertThat(survivor.relayOnce()).isEqualTo(2);
    await().atMost(Duration.ofSeconds(20)).until(() -> handled.size() == 2);
    assertThat(handled).containsExactly("0", "1");
  }

  @Test
  @DisplayName("an append wakes the relay at once instead of waiting for the next poll")
  void wakesOnAppend() {
    InMemoryStore store = new InMemoryStore();
    List<String> handled = Collections.synchronizedList(new ArrayList<>());
    engine.register(
        WorkflowDefinition.named("record")
            .keyedBy("site")
            .handler(ctx -> handled.add(ctx.input().get("seq"))));
    engine.start();
    relay(store.outbox(), "r", java.time.Clock.systemUTC(), Duration.ofHours(1)).start();
    store.outbox().append(event(SiteId.of("a"), 7));
    await().atMost(Duration.ofSeconds(10)).until(() -> handled.contains("7"));
  }

  @Test
  @DisplayName(
      "an event committed by this process reaches its workflow within a second, though the relay"
          + " polls once a minute and gets no append notifications")
  void claimedOnAppend() {
    InMemoryStore store = new InMemoryStore();
    List<String> handled = Collections.synchronizedList(new ArrayList<>());
    engine.register(
        WorkflowDefinition.named("record")
            .keyedBy("site")
            .handler(ctx -> handled.add(ctx.input().get("seq"))));
    engine.start();
    relay(
            new WithoutNotifications(store.outbox()),
            "local",
            java.time.Clock.systemUTC(),
            Duration.ofMinutes(1))
        .start();

    store.outbox().append(event(SiteId.of("s1"), 1));
    store.outbox().append(event(SiteId.of("s2"), 1));

    await().atMost(Duration.ofSeconds(1)).until(() -> handled.size() == 2);
    await().atMost(Duration.ofSeconds(5)).until(() -> store.outbox().stats().undelivered() == 0);
  }

  /** An outbox that offers no append notifications; claiming on append stays. */
  private static final class WithoutNotifications extends ForwardingOutbox {
    WithoutNotifications(Outbox delegate) {
      super(delegate);
    }

    @Override
    public Optional<Subscription> onAppend(Runnable wakeUp) {
      return Optional.empty();
    }
  }

  @Test
  @DisplayName(
      "by default a round claims 500 events, so a backlog drains in few claims (a claim costs"
          + " about the same for 100 events as for 500)")
  void defaultBatchDrainsABacklogInFewClaims() {
    InMemoryStore store = new InMemoryStore();
    engine.register(WorkflowDefinition.named("record").keyedBy("site").handler(ctx -> {}));
    engine.start();
    for (int i = 0; i < 1_000; i++) {
      store.outbox().append(event(SiteId.of("site-" + i % 50), i));
    }
    OutboxRelay relay =
        relay(store.outbox(), "r", java.time.Clock.systemUTC(), Duration.ofMillis(100));

    assertThat(relay.relayOnce()).isEqualTo(OutboxRelay.DEFAULT_BATCH_SIZE).isEqualTo(500);
    assertThat(relay.relayOnce()).isEqualTo(500);
    assertThat(store.outbox().stats().undelivered()).isZero();
  }
}
