package dev.durabledeploy.benchmarks;

import dev.durabledeploy.core.outbox.OutboxRelay;
import dev.durabledeploy.engine.executor.ExecutorEngine;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.Store;
import dev.durabledeploy.spi.engine.WorkflowDefinition;
import dev.durabledeploy.spi.events.Subscription;
import dev.durabledeploy.spi.outbox.AppendClaimer;
import dev.durabledeploy.spi.outbox.NewEvent;
import dev.durabledeploy.spi.outbox.Outbox;
import dev.durabledeploy.store.postgres.PostgresStore;
import dev.durabledeploy.testkit.ForwardingOutbox;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;

/**
 * The outbox relay end to end on PostgreSQL under {@link OutboxLoad}: the relay hands events to a
 * no-op workflow on the executor engine, as it runs by default (events of this process claimed on
 * append and handed over after the commit, LISTEN/NOTIFY for the rest) and with polling only (same
 * relay, the store's notifications and claiming on append hidden).
 */
final class RelayHarness {

  private RelayHarness() {}

  static OutboxLoad.Result run(
      PostgresStore store, int producers, boolean notifications, int eventsPerProducer)
      throws Exception {
    return run(
        store,
        "durable-deploy, claim on append + LISTEN/NOTIFY",
        producers,
        notifications,
        eventsPerProducer);
  }

  /** The same on any store; {@code wakeLabel} names the store's wake-up mechanism. */
  static OutboxLoad.Result run(
      Store store, String wakeLabel, int producers, boolean notifications, int eventsPerProducer)
      throws Exception {
    OutboxLoad load = new OutboxLoad();
    Outbox outbox = notifications ? store.outbox() : new PollingOnly(store.outbox());
    try (Consumer consumer = new Consumer(outbox, load)) {
      consumer.relay.start();
      return load.run(
          notifications ? wakeLabel : wakeLabel.replaceFirst(",.*", ", polling only (100 ms)"),
          producer(outbox),
          producers,
          eventsPerProducer);
    }
  }

  /** Backlog drain: {@code events} committed with the relay stopped, then it starts. */
  static double drain(Store store, int events) throws Exception {
    OutboxLoad load = new OutboxLoad();
    try (Consumer consumer = new Consumer(store.outbox(), load)) {
      return load.drain(
          "durable-deploy backlog",
          producer(store.outbox()),
          Duration.ZERO,
          consumer.relay::start,
          events);
    }
  }

  private static OutboxLoad.Producer producer(Outbox outbox) {
    return (site, seq, t) ->
        outbox.append(
            new NewEvent(
                SiteId.of(site),
                "bench.event",
                Map.of("site", site, "seq", Long.toString(seq), "t", Long.toString(t))));
  }

  /** The relay and a no-op workflow on the executor engine, reporting to {@code load}. */
  private static final class Consumer implements AutoCloseable {
    final ExecutorEngine engine = ExecutorEngine.builder().build();
    final OutboxRelay relay;

    Consumer(Outbox outbox, OutboxLoad load) {
      engine.register(
          WorkflowDefinition.named("noop")
              .keyedBy("site")
              .handler(
                  ctx ->
                      load.delivered(
                          Long.parseLong(ctx.input().get("seq")),
                          Long.parseLong(ctx.input().get("t")))));
      engine.start();
      relay =
          OutboxRelay.builder(outbox, engine)
              .owner("bench-relay")
              .route("bench.event", "noop")
              .pollInterval(Duration.ofMillis(100))
              .build();
    }

    @Override
    public void close() {
      relay.stop(Duration.ofSeconds(10));
      engine.stop(Duration.ofSeconds(10));
    }
  }

  /**
   * The store's outbox with its notifications hidden, and claiming on append with them (the
   * default), so the relay can only poll.
   */
  private static final class PollingOnly extends ForwardingOutbox {
    PollingOnly(Outbox delegate) {
      super(delegate);
    }

    @Override
    public Optional<Subscription> onAppend(Runnable wakeUp) {
      return Optional.empty();
    }

    @Override
    public Optional<Subscription> claimOnAppend(AppendClaimer claimer) {
      return Optional.empty();
    }
  }
}
