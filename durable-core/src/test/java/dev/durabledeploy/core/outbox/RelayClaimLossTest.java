package dev.durabledeploy.core.outbox;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.engine.RunHandle;
import dev.durabledeploy.spi.engine.Submission;
import dev.durabledeploy.spi.engine.WorkflowDefinition;
import dev.durabledeploy.spi.engine.WorkflowEngine;
import dev.durabledeploy.spi.events.Subscription;
import dev.durabledeploy.spi.exception.TransientStoreException;
import dev.durabledeploy.spi.outbox.AppendClaimer;
import dev.durabledeploy.spi.outbox.NewEvent;
import dev.durabledeploy.spi.outbox.Outbox;
import dev.durabledeploy.spi.outbox.OutboxEvent;
import dev.durabledeploy.store.memory.InMemoryStore;
import dev.durabledeploy.store.memory.InMemoryWorkflowEngine;
import dev.durabledeploy.testkit.ForwardingOutbox;
import dev.durabledeploy.testkit.ForwardingWorkflowEngine;
import dev.durabledeploy.testkit.MutableClock;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Issue 21.6: a relay that lost its claim on a site stops dispatching that site, so two relays
 * never dispatch one site's events at once and per-site order holds. Relay A claims a site's three
 * events, submits the first and stalls (its engine's acceptance is held back) while its claim runs
 * out; relay B claims the site and delivers all three; then A's acceptance arrives. A must submit
 * nothing more.
 */
@DisplayName("a relay that lost its claim stops dispatching the site")
class RelayClaimLossTest {

  /** How relay A comes to lose its claim. */
  enum Stall {
    /** A's renewals hang (a store call stuck for longer than the TTL): its own clock stops it. */
    RENEW_HANGS,
    /** A's renewals fail for longer than the TTL (store unreachable from A only). */
    RENEW_FAILS,
    /**
     * A's renewals work, but A's clock is behind the store's: only the renewal's result (0 events
     * extended) tells A the claim is gone.
     */
    RENEW_EXTENDS_NOTHING
  }

  private static final Duration A_TTL = Duration.ofMillis(300);
  private final InMemoryWorkflowEngine engine = new InMemoryWorkflowEngine();
  private final List<OutboxRelay> relays = new ArrayList<>();
  private final CountDownLatch unblock = new CountDownLatch(1);

  @AfterEach
  void stop() {
    unblock.countDown();
    relays.forEach(r -> r.stop(Duration.ofSeconds(5)));
    engine.close();
  }

  @ParameterizedTest(name = "{0}")
  @EnumSource(Stall.class)
  @DisplayName(
      "per-site order holds across two relays when one's renewals stop working past the TTL")
  void lostClaimStopsTheChain(Stall stall) throws Exception {
    MutableClock storeClock = new MutableClock();
    InMemoryStore store = new InMemoryStore(storeClock);
    List<String> handled = Collections.synchronizedList(new ArrayList<>());
    engine.register(
        WorkflowDefinition.named("record")
            .keyedBy("site")
            .handler(ctx -> handled.add(ctx.input().get("seq"))));
    engine.start();
    SiteId site = SiteId.of("a");
    for (int seq = 0; seq < 3; seq++) {
      store
          .outbox()
          .append(
              new NewEvent(site, "test.event", Map.of("site", "a", "seq", Integer.toString(seq))));
    }
    List<String> submissions = Collections.synchronizedList(new ArrayList<>());
    CountDownLatch aSubmitted = new CountDownLatch(1);
    CountDownLatch acceptA = new CountDownLatch(1);
    // Relay A's engine: the engine takes (and runs) A's first submission at once, but A hears of
    // the acceptance only when the test says so, as after a long pause of A's process.
    WorkflowEngine engineA =
        new Recording("A", engine, submissions) {
          final AtomicBoolean first = new AtomicBoolean(true);

          @Override
          public CompletionStage<RunHandle> submit(Submission submission) {
            CompletionStage<RunHandle> accepted = super.submit(submission);
            if (!first.getAndSet(false)) {
              return accepted;
            }
            aSubmitted.countDown();
            return accepted.thenCompose(
                handle ->
                    CompletableFuture.supplyAsync(
                        () -> {
                          awaitLatch(acceptA);
                          return handle;
                        }));
          }
        };
    RenewProbe outboxA = new RenewProbe(store.outbox(), stall, unblock);
    Clock clockA = stall == Stall.RENEW_EXTENDS_NOTHING ? new MutableClock() : storeClock;
    SimpleMeterRegistry metersA = new SimpleMeterRegistry();
    OutboxRelay a =
        OutboxRelay.builder(outboxA, engineA)
            .owner("relay-a")
            .clock(clockA)
            .leaseTtl(A_TTL)
            .pollInterval(Duration.ofMillis(50))
            .meterRegistry(metersA)
            .route("test.event", "record")
            .build();
    relays.add(a);
    a.start();
    assertThat(aSubmitted.await(10, TimeUnit.SECONDS)).isTrue();

    // A's claim runs out in the store; relay B claims the site and delivers it, in order.
    storeClock.advance(Duration.ofSeconds(1));
    OutboxRelay b =
        OutboxRelay.builder(store.outbox(), new Recording("B", engine, submissions))
            .owner("relay-b")
            .clock(storeClock)
            .route("test.event", "record")
            .build();
    relays.add(b);
    assertThat(b.relayOnce()).isEqualTo(3);
    if (stall == Stall.RENEW_EXTENDS_NOTHING) {
      // Let A's renewer find out: a round of renewals issued after B's claim extends nothing.
      // The renewer is one thread, so a third call started means that round has finished.
      int calls = outboxA.renewals.get();
      await().atMost(Duration.ofSeconds(10)).until(() -> outboxA.renewals.get() > calls + 2);
    }

    // A's first submission is accepted at last: A must not go on with the site.
    acceptA.countDown();
    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () ->
                Optional.ofNullable(metersA.find("durable.outbox.relay.claims.lost").counter())
                            .map(c -> c.count())
                            .orElse(0.0)
                        == 1
                    || submissions.size() > 4);
    assertThat(submissions).containsExactly("A:0", "B:0", "B:1", "B:2");
    assertThat(handled).containsExactly("0", "1", "2");
    assertThat(store.outbox().stats().undelivered()).isZero();
  }

  @ParameterizedTest(name = "{0}")
  @EnumSource(Stall.class)
  @DisplayName(
      "a relay that lost its claim does not acknowledge the event it ran, so the site stays with"
          + " the relay that holds it now, which goes on in order")
  void lostChainLeavesItsEventsToTheHolder(Stall stall) throws Exception {
    MutableClock storeClock = new MutableClock();
    InMemoryStore store = new InMemoryStore(storeClock);
    engine.register(WorkflowDefinition.named("record").keyedBy("site").handler(ctx -> {}));
    engine.start();
    SiteId site = SiteId.of("a");
    for (int seq = 0; seq < 3; seq++) {
      store
          .outbox()
          .append(
              new NewEvent(site, "test.event", Map.of("site", "a", "seq", Integer.toString(seq))));
    }
    List<String> submissions = Collections.synchronizedList(new ArrayList<>());
    CountDownLatch aSubmitted = new CountDownLatch(1);
    CountDownLatch acceptA = new CountDownLatch(1);
    CountDownLatch bSubmitted = new CountDownLatch(1);
    CountDownLatch acceptB = new CountDownLatch(1);
    RenewProbe outboxA = new RenewProbe(store.outbox(), stall, unblock);
    Clock clockA = stall == Stall.RENEW_EXTENDS_NOTHING ? new MutableClock() : storeClock;
    SimpleMeterRegistry metersA = new SimpleMeterRegistry();
    OutboxRelay a =
        OutboxRelay.builder(outboxA, heldFirst("A", submissions, aSubmitted, acceptA))
            .owner("relay-a")
            .clock(clockA)
            .leaseTtl(A_TTL)
            .pollInterval(Duration.ofMillis(50))
            .meterRegistry(metersA)
            .route("test.event", "record")
            .build();
    relays.add(a);
    a.start();
    assertThat(aSubmitted.await(10, TimeUnit.SECONDS)).isTrue();

    // A's claim runs out in the store; B claims the site, and its first event is still running
    // (its acceptance held back) when A's arrives.
    storeClock.advance(Duration.ofSeconds(1));
    AtomicInteger renewalsB = new AtomicInteger();
    SimpleMeterRegistry metersB = new SimpleMeterRegistry();
    Outbox outboxB =
        new ForwardingOutbox(store.outbox()) {
          @Override
          public int renew(String owner, Collection<Long> ids, Duration leaseTtl) {
            renewalsB.incrementAndGet();
            return super.renew(owner, ids, leaseTtl);
          }
        };
    OutboxRelay b =
        OutboxRelay.builder(outboxB, heldFirst("B", submissions, bSubmitted, acceptB))
            .owner("relay-b")
            .clock(storeClock)
            .leaseTtl(A_TTL)
            .pollInterval(Duration.ofMillis(50))
            .meterRegistry(metersB)
            .route("test.event", "record")
            .build();
    relays.add(b);
    b.start();
    assertThat(bSubmitted.await(10, TimeUnit.SECONDS)).isTrue();
    if (stall == Stall.RENEW_EXTENDS_NOTHING) {
      int calls = outboxA.renewals.get();
      await().atMost(Duration.ofSeconds(10)).until(() -> outboxA.renewals.get() > calls + 2);
    }

    acceptA.countDown();
    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () ->
                Optional.ofNullable(metersA.find("durable.outbox.relay.claims.lost").counter())
                        .map(c -> c.count())
                        .orElse(0.0)
                    == 1);
    // Three of B's renewals after A's chain ended: had A acknowledged event 0, B's renewal would
    // have found it settled and B would have taken its claim for lost.
    int seen = renewalsB.get();
    await().atMost(Duration.ofSeconds(10)).until(() -> renewalsB.get() > seen + 3);
    acceptB.countDown();
    await().atMost(Duration.ofSeconds(10)).until(() -> store.outbox().stats().undelivered() == 0);
    assertThat(submissions).containsExactly("A:0", "B:0", "B:1", "B:2");
    assertThat(metersB.find("durable.outbox.relay.claims.lost").counter())
        .as("B's claims lost")
        .satisfiesAnyOf(c -> assertThat(c).isNull(), c -> assertThat(c.count()).isZero());
  }

  /** An engine recording submissions whose first acceptance waits for {@code accept}. */
  private WorkflowEngine heldFirst(
      String relay, List<String> submissions, CountDownLatch submitted, CountDownLatch accept) {
    return new Recording(relay, engine, submissions) {
      final AtomicBoolean first = new AtomicBoolean(true);

      @Override
      public CompletionStage<RunHandle> submit(Submission submission) {
        CompletionStage<RunHandle> accepted = super.submit(submission);
        if (!first.getAndSet(false)) {
          return accepted;
        }
        submitted.countDown();
        return accepted.thenCompose(
            handle ->
                CompletableFuture.supplyAsync(
                    () -> {
                      awaitLatch(accept);
                      return handle;
                    }));
      }
    };
  }

  private static void awaitLatch(CountDownLatch latch) {
    try {
      if (!latch.await(30, TimeUnit.SECONDS)) {
        throw new IllegalStateException("the test never released the latch");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /** An outbox whose renewals behave as the stall says; everything else goes to the store. */
  static final class RenewProbe extends ForwardingOutbox {
    final Stall stall;
    final CountDownLatch unblock;
    final AtomicInteger renewals = new AtomicInteger();
    final AtomicBoolean claimed = new AtomicBoolean();

    RenewProbe(Outbox delegate, Stall stall, CountDownLatch unblock) {
      super(delegate);
      this.stall = stall;
      this.unblock = unblock;
    }

    @Override
    public int renew(String owner, Collection<Long> ids, Duration leaseTtl) {
      renewals.incrementAndGet();
      switch (stall) {
        case RENEW_HANGS -> {
          try {
            unblock.await();
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
          throw new TransientStoreException("renew hung until the test ended");
        }
        case RENEW_FAILS -> throw new TransientStoreException("the store is unreachable from A");
        default -> {
          return delegate().renew(owner, ids, leaseTtl);
        }
      }
    }

    /** No claims on append: A's relay gets events only through {@link #claim}. */
    @Override
    public Optional<Subscription> claimOnAppend(AppendClaimer claimer) {
      return Optional.empty();
    }

    /**
     * A's first batch, then nothing: the rest of A's process is stalled too, so A's own loop does
     * not claim the site again once its first claim ran out (B does).
     */
    @Override
    public List<OutboxEvent> claim(String owner, int maxEvents, Duration leaseTtl) {
      if (claimed.get()) {
        return List.of();
      }
      List<OutboxEvent> batch = delegate().claim(owner, maxEvents, leaseTtl);
      if (!batch.isEmpty()) {
        claimed.set(true);
      }
      return batch;
    }
  }

  /** An engine that logs each submission as {@code <relay>:<seq>} and passes it on. */
  static class Recording extends ForwardingWorkflowEngine {
    final String relay;
    final List<String> log;

    Recording(String relay, WorkflowEngine delegate, List<String> log) {
      super(delegate);
      this.relay = relay;
      this.log = log;
    }

    @Override
    public CompletionStage<RunHandle> submit(Submission submission) {
      log.add(relay + ":" + submission.input().get("seq"));
      return super.submit(submission);
    }

    @Override
    public void close() {}
  }
}
