package dev.durabledeploy.benchmarks;

import dev.durabledeploy.core.outbox.OutboxRelay;
import dev.durabledeploy.engine.executor.ExecutorEngine;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.engine.WorkflowDefinition;
import dev.durabledeploy.spi.events.Subscription;
import dev.durabledeploy.spi.outbox.NewEvent;
import dev.durabledeploy.spi.outbox.Outbox;
import dev.durabledeploy.spi.outbox.OutboxEvent;
import dev.durabledeploy.spi.outbox.OutboxStats;
import dev.durabledeploy.store.postgres.PostgresStore;
import java.time.Duration;
import java.time.Instant;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The outbox relay end to end on PostgreSQL: producers commit events, the relay hands them to a
 * no-op workflow on the executor engine; measured are committed/s, delivered/s and the lag from
 * commit to handler, with LISTEN/NOTIFY wake-ups and with polling only (same relay, the store's
 * notifications hidden).
 */
final class RelayHarness {

  record Result(
      int producers,
      boolean notifications,
      double committedPerSecond,
      double deliveredPerSecond,
      double lagP50Millis,
      double lagP99Millis) {}

  private RelayHarness() {}

  static Result run(
      PostgresStore store, int producers, boolean notifications, int eventsPerProducer)
      throws Exception {
    AtomicInteger handled = new AtomicInteger();
    ConcurrentLinkedQueue<Long> lags = new ConcurrentLinkedQueue<>();
    int total = producers * eventsPerProducer;
    CountDownLatch allHandled = new CountDownLatch(total + 500);
    ExecutorEngine engine = ExecutorEngine.builder().build();
    engine.register(
        WorkflowDefinition.named("noop")
            .keyedBy("site")
            .handler(
                ctx -> {
                  lags.add(System.nanoTime() - Long.parseLong(ctx.input().get("t")));
                  handled.incrementAndGet();
                  allHandled.countDown();
                }));
    engine.start();
    Outbox outbox = notifications ? store.outbox() : new PollingOnly(store.outbox());
    OutboxRelay relay =
        OutboxRelay.builder(outbox, engine)
            .owner("bench-relay")
            .route("bench.event", "noop")
            .pollInterval(Duration.ofMillis(100))
            .build();
    relay.start();
    // Warm-up: the relay's LISTEN connection, the JIT and the pools get going before measuring.
    int warmup = 500;
    for (int i = 0; i < warmup; i++) {
      outbox.append(
          new NewEvent(
              SiteId.of("site-" + i % 50),
              "bench.event",
              Map.of("site", "site-" + i % 50, "t", Long.toString(System.nanoTime()))));
    }
    long warmDeadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (handled.get() < warmup && System.nanoTime() < warmDeadline) {
      java.util.concurrent.locks.LockSupport.parkNanos(1_000_000);
    }
    handled.set(0);
    lags.clear();
    ExecutorService pool = Executors.newFixedThreadPool(producers);
    long start = System.nanoTime();
    CountDownLatch produced = new CountDownLatch(producers);
    for (int p = 0; p < producers; p++) {
      int producer = p;
      pool.execute(
          () -> {
            for (int i = 0; i < eventsPerProducer; i++) {
              outbox.append(
                  new NewEvent(
                      SiteId.of("site-" + (producer * 7 + i) % 50),
                      "bench.event",
                      Map.of(
                          "site",
                          "site-" + (producer * 7 + i) % 50,
                          "t",
                          Long.toString(System.nanoTime()))));
            }
            produced.countDown();
          });
    }
    produced.await();
    double commitSeconds = (System.nanoTime() - start) / 1e9;
    allHandled.await(300, TimeUnit.SECONDS);
    double deliverSeconds = (System.nanoTime() - start) / 1e9;
    pool.shutdown();
    relay.stop(Duration.ofSeconds(10));
    engine.stop(Duration.ofSeconds(10));
    long[] samples = lags.stream().mapToLong(Long::longValue).toArray();
    Percentiles lag = new Percentiles(samples);
    return new Result(
        producers,
        notifications,
        total / commitSeconds,
        handled.get() / deliverSeconds,
        lag.micros(50) / 1000,
        lag.micros(99) / 1000);
  }

  /** The store's outbox with its notifications hidden, so the relay can only poll. */
  private record PollingOnly(Outbox delegate) implements Outbox {
    @Override
    public long append(NewEvent event) {
      return delegate.append(event);
    }

    @Override
    public List<OutboxEvent> claim(String owner, int maxEvents, Duration leaseTtl) {
      return delegate.claim(owner, maxEvents, leaseTtl);
    }

    @Override
    public int ack(String owner, Collection<Long> ids) {
      return delegate.ack(owner, ids);
    }

    @Override
    public boolean fail(String owner, long id, String error, Instant nextAttemptAt) {
      return delegate.fail(owner, id, error, nextAttemptAt);
    }

    @Override
    public int release(String owner, Collection<Long> ids) {
      return delegate.release(owner, ids);
    }

    @Override
    public int renew(String owner, Collection<Long> ids, Duration leaseTtl) {
      return delegate.renew(owner, ids, leaseTtl);
    }

    @Override
    public int purgeDelivered(Instant cutoff, int limit) {
      return delegate.purgeDelivered(cutoff, limit);
    }

    @Override
    public OutboxStats stats() {
      return delegate.stats();
    }

    @Override
    public Optional<Subscription> onAppend(Runnable wakeUp) {
      return Optional.empty();
    }
  }
}
