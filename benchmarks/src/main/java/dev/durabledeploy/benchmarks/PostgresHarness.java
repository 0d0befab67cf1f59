package dev.durabledeploy.benchmarks;

import dev.durabledeploy.spi.Actor;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.metadata.AliasExpectation;
import dev.durabledeploy.spi.outbox.NewEvent;
import dev.durabledeploy.spi.outbox.OutboxEvent;
import dev.durabledeploy.store.postgres.PostgresStore;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * The PostgreSQL figures, each beside its baseline on the same server in the same run: the finalize
 * metadata command (activate: deploy ACTIVE + alias CAS + release + audit + two outbox events in
 * one transaction) against a bare single-row INSERT transaction, interleaved so both see the same
 * machine; outbox claim+ack throughput at batch 100; the relay under {@link OutboxLoad} beside the
 * gruelbox peer; retention planning read from the store.
 */
final class PostgresHarness {

  record Result(
      double finalizeP50,
      double finalizeP99,
      double insertP50,
      double insertP99,
      double claimAckPerSecond,
      List<OutboxLoad.Result> relay,
      double drainPerSecond,
      double peerDrainPerSecond,
      PgPlanHarness.Result planning,
      CasHarness.Result cas,
      CasHarness.Result casInMemory) {}

  static final int[] RELAY_PRODUCERS = {1, 4, 16};
  static final int DRAIN_EVENTS = 10_000;

  private PostgresHarness() {}

  static Result run(int samples) throws Exception {
    try (EmbeddedPostgres pg = EmbeddedPostgres.builder().start()) {
      String url = pg.getJdbcUrl("postgres", "postgres");
      try (PostgresStore store =
              PostgresStore.builder()
                  .jdbcUrl(url)
                  .username("postgres")
                  .password("postgres")
                  .migrateOnStart(true)
                  .build();
          Connection baseline = pg.getPostgresDatabase().getConnection()) {
        try (Statement s = baseline.createStatement()) {
          s.execute(
              "CREATE TABLE bench_insert (id bigserial PRIMARY KEY, site text, payload text, at timestamptz)");
        }
        SiteId site = SiteId.of("bench");
        Instant base = Instant.parse("2026-01-01T00:00:00Z");
        DeployId[] ids = new DeployId[samples + 200];
        for (int i = 0; i < ids.length; i++) {
          ids[i] = DeployId.forSha(base.plusSeconds(i), String.format("%07x", i));
          store.metadata().createPending(site, ids[i], null, Actor.SYSTEM);
        }
        long[] finalize = new long[samples];
        long[] insert = new long[samples];
        try (PreparedStatement ps =
            baseline.prepareStatement(
                "INSERT INTO bench_insert (site, payload, at) VALUES (?, ?, now())")) {
          for (int i = 0; i < ids.length; i++) {
            long t0 = System.nanoTime();
            store
                .metadata()
                .activate(site, ids[i], AliasName.PRODUCTION, AliasExpectation.ANY, Actor.SYSTEM);
            long t1 = System.nanoTime();
            ps.setString(1, "bench");
            ps.setString(2, "{\"deployId\":\"" + ids[i] + "\"}");
            ps.executeUpdate();
            long t2 = System.nanoTime();
            if (i >= 200) { // the first 200 warm up the JIT and both connections
              finalize[i - 200] = t1 - t0;
              insert[i - 200] = t2 - t1;
            }
          }
        }
        Percentiles f = new Percentiles(finalize);
        Percentiles b = new Percentiles(insert);

        int events = 20_000;
        drain(store); // the activations' own events, so the measurement starts from an empty outbox
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
        List<OutboxLoad.Result> relay = new java.util.ArrayList<>();
        for (int producers : RELAY_PRODUCERS) {
          for (boolean notifications : new boolean[] {true, false}) {
            relay.add(RelayHarness.run(store, producers, notifications, 8_000 / producers));
          }
          relay.add(GruelboxHarness.run(url, "postgres", "postgres", producers, 8_000 / producers));
        }
        double drain = RelayHarness.drain(store, DRAIN_EVENTS);
        double peerDrain = GruelboxHarness.drain(url, "postgres", "postgres", DRAIN_EVENTS);
        PgPlanHarness.Result planning = PgPlanHarness.run(store.metadata(), 100, 100);
        CasHarness.Result cas = CasHarness.run(store, "cas-bench", 32, 100);
        CasHarness.Result casMemory =
            CasHarness.run(
                new dev.durabledeploy.testkit.memory.InMemoryStore(), "cas-bench", 32, 1_000);
        return new Result(
            f.micros(50),
            f.micros(99),
            b.micros(50),
            b.micros(99),
            delivered / seconds,
            relay,
            drain,
            peerDrain,
            planning,
            cas,
            casMemory);
      }
    }
  }

  private static int drain(PostgresStore store) {
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
