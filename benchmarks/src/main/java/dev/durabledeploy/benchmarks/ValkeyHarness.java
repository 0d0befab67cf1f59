package dev.durabledeploy.benchmarks;

import dev.durabledeploy.spi.Actor;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.metadata.AliasExpectation;
import dev.durabledeploy.spi.outbox.NewEvent;
import dev.durabledeploy.spi.outbox.OutboxEvent;
import dev.durabledeploy.store.valkey.ValkeyStore;
import dev.durabledeploy.testkit.fixtures.ValkeyExtension;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The same figures as {@link PostgresHarness} with the whole store on Valkey (the testkit's server:
 * {@code DURABLE_DEPLOY_VALKEY_URL}, a local valkey-server/redis-server, else embedded Redis 6.2):
 * finalize (activate) beside a bare {@code SET} round trip, interleaved; claim+ack at batch 100;
 * the relay under {@link OutboxLoad} woken by {@code XREAD BLOCK}; a backlog drain; alias CAS.
 */
final class ValkeyHarness {

  record Result(
      double finalizeP50,
      double finalizeP99,
      double setP50,
      double setP99,
      double claimAckPerSecond,
      List<OutboxLoad.Result> relay,
      double drainPerSecond,
      CasHarness.Result cas,
      String server) {}

  private ValkeyHarness() {}

  static Result run(int samples) throws Exception {
    String uri = ValkeyExtension.server().uri().toString();
    RedisClient baselineClient = RedisClient.create(uri);
    try (ValkeyStore store =
            ValkeyStore.builder().uri(uri).namespace(ValkeyExtension.newNamespace()).build();
        StatefulRedisConnection<String, String> baseline = baselineClient.connect()) {
      String server =
          baseline
              .sync()
              .info("server")
              .lines()
              .filter(l -> l.startsWith("redis_version:") || l.startsWith("valkey_version:"))
              .findFirst()
              .orElse("unknown version")
              .trim();
      SiteId site = SiteId.of("bench");
      Instant base = Instant.parse("2026-01-01T00:00:00Z");
      DeployId[] ids = new DeployId[samples + 200];
      for (int i = 0; i < ids.length; i++) {
        ids[i] = DeployId.forSha(base.plusSeconds(i), String.format("%07x", i));
        store.metadata().createPending(site, ids[i], null, Actor.SYSTEM);
      }
      long[] finalize = new long[samples];
      long[] set = new long[samples];
      for (int i = 0; i < ids.length; i++) {
        long t0 = System.nanoTime();
        store
            .metadata()
            .activate(site, ids[i], AliasName.PRODUCTION, AliasExpectation.ANY, Actor.SYSTEM);
        long t1 = System.nanoTime();
        baseline.sync().set("bench:set:" + (i % 100), "{\"deployId\":\"" + ids[i] + "\"}");
        long t2 = System.nanoTime();
        if (i >= 200) { // the first 200 warm up the JIT and both connections
          finalize[i - 200] = t1 - t0;
          set[i - 200] = t2 - t1;
        }
      }
      Percentiles f = new Percentiles(finalize);
      Percentiles b = new Percentiles(set);

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
      double seconds = (System.nanoTime() - start) / 1e9;
      List<OutboxLoad.Result> relay = new ArrayList<>();
      for (int producers : PostgresHarness.RELAY_PRODUCERS) {
        relay.add(
            RelayHarness.run(
                store,
                "durable-deploy on Valkey, XREAD BLOCK",
                producers,
                true,
                8_000 / producers));
      }
      double drain = RelayHarness.drain(store, PostgresHarness.DRAIN_EVENTS);
      CasHarness.Result cas = CasHarness.run(store, "cas-bench", 32, 100);
      return new Result(
          f.micros(50),
          f.micros(99),
          b.micros(50),
          b.micros(99),
          delivered / seconds,
          relay,
          drain,
          cas,
          server);
    } finally {
      baselineClient.shutdown();
    }
  }

  private static int drain(ValkeyStore store) {
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
