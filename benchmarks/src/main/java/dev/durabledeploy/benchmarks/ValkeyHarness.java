package dev.durabledeploy.benchmarks;

import dev.durabledeploy.store.valkey.ValkeyStore;
import dev.durabledeploy.testkit.fixtures.ValkeyExtension;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import java.util.ArrayList;
import java.util.List;

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
      StoreFigures.Latency finalize =
          StoreFigures.finalizeLatency(
              store,
              samples,
              (id, i) ->
                  baseline.sync().set("bench:set:" + (i % 100), "{\"deployId\":\"" + id + "\"}"));
      double claimAck = StoreFigures.claimAckPerSecond(store);
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
      CasHarness.Result cas = CasHarness.run(store, "cas-bench", 32, 50);
      return new Result(
          finalize.p50(),
          finalize.p99(),
          finalize.baselineP50(),
          finalize.baselineP99(),
          claimAck,
          relay,
          drain,
          cas,
          server);
    } finally {
      baselineClient.shutdown();
    }
  }
}
