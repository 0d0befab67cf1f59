package dev.durabledeploy.benchmarks;

import dev.durabledeploy.core.metadata.MetadataCommands;
import dev.durabledeploy.spi.Actor;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.Store;
import dev.durabledeploy.spi.metadata.AliasExpectation;
import dev.durabledeploy.spi.outbox.NewEvent;
import dev.durabledeploy.spi.outbox.OutboxEvent;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.function.ObjLongConsumer;

/** Figures every store harness measures the same way, so the stores compare row by row. */
final class StoreFigures {

  private static final int WARM_UP = 200;

  /** Latency percentiles in microseconds of a command and of its baseline round trip. */
  record Latency(double p50, double p99, double baselineP50, double baselineP99) {}

  private StoreFigures() {}

  /**
   * The finalize metadata command (activate: deploy ACTIVE, alias CAS, release, audit, two outbox
   * events in one atom) on a site of {@code samples + 200} deploys, each followed by {@code
   * baseline} (given the deploy id and the index), interleaved so both see the same machine.
   */
  static Latency finalizeLatency(Store store, int samples, ObjLongConsumer<DeployId> baseline) {
    return commandLatencies(store, samples, baseline).activate();
  }

  /** The finalize and the promote command's latencies, each beside its own baseline samples. */
  record Commands(Latency activate, Latency promote) {}

  /**
   * The finalize metadata command as in {@link #finalizeLatency} and the promote metadata command
   * (alias move: alias CAS, release of the previous target, audit, two outbox events in one atom),
   * each followed by its own {@code baseline}, all four interleaved: finalize deploy {@code i}
   * (production moves to it), baseline, promote production back to deploy {@code i - 1} (a
   * rollback, the same command), baseline.
   */
  static Commands commandLatencies(Store store, int samples, ObjLongConsumer<DeployId> baseline) {
    SiteId site = SiteId.of("bench");
    Instant base = Instant.parse("2026-01-01T00:00:00Z");
    MetadataCommands commands = new MetadataCommands(store.metadata());
    DeployId[] ids = new DeployId[samples + WARM_UP + 1];
    for (int i = 0; i < ids.length; i++) {
      ids[i] = DeployId.forSha(base.plusSeconds(i), String.format("%07x", i));
      commands.createPending(site, ids[i], null, Actor.SYSTEM);
    }
    commands.activate(site, ids[0], AliasName.PRODUCTION, AliasExpectation.ANY, Actor.SYSTEM);
    long[] finalize = new long[samples];
    long[] finalizeBare = new long[samples];
    long[] promote = new long[samples];
    long[] promoteBare = new long[samples];
    for (int i = 1; i < ids.length; i++) {
      long t0 = System.nanoTime();
      commands.activate(site, ids[i], AliasName.PRODUCTION, AliasExpectation.ANY, Actor.SYSTEM);
      long t1 = System.nanoTime();
      baseline.accept(ids[i], i);
      long t2 = System.nanoTime();
      commands.moveAlias(
          site, AliasName.PRODUCTION, ids[i - 1], AliasExpectation.ANY, Actor.SYSTEM);
      long t3 = System.nanoTime();
      baseline.accept(ids[i], i);
      long t4 = System.nanoTime();
      int at = i - 1 - WARM_UP;
      if (at >= 0) { // the first ones warm up the JIT and both connections
        finalize[at] = t1 - t0;
        finalizeBare[at] = t2 - t1;
        promote[at] = t3 - t2;
        promoteBare[at] = t4 - t3;
      }
    }
    return new Commands(latency(finalize, finalizeBare), latency(promote, promoteBare));
  }

  private static Latency latency(long[] command, long[] bare) {
    Percentiles c = new Percentiles(command);
    Percentiles b = new Percentiles(bare);
    return new Latency(c.micros(50), c.micros(99), b.micros(50), b.micros(99));
  }

  /** Claim+ack at batch 100 of 20,000 events over 100 sites, after draining what was there. */
  static double claimAckPerSecond(Store store) {
    drain(store);
    int events = 20_000;
    for (int i = 0; i < events; i++) {
      store
          .outbox()
          .append(
              new NewEvent(
                  SiteId.of("s" + (i % 100)), "bench.event", Map.of("n", Integer.toString(i))));
    }
    long start = System.nanoTime();
    int delivered = drain(store);
    return delivered / ((System.nanoTime() - start) / 1e9);
  }

  private static int drain(Store store) {
    int delivered = 0;
    while (true) {
      List<OutboxEvent> batch = store.outbox().claim("bench", 100, Duration.ofMinutes(1));
      if (batch.isEmpty()) {
        return delivered;
      }
      delivered += store.outbox().ack("bench", batch.stream().map(OutboxEvent::id).toList());
    }
  }
}
