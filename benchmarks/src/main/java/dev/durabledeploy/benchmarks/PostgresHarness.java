package dev.durabledeploy.benchmarks;

import dev.durabledeploy.store.postgres.PostgresStore;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.Statement;
import java.util.List;

/**
 * The PostgreSQL figures, each beside its baseline on the same server in the same run: the finalize
 * metadata command (activate: deploy ACTIVE + alias CAS + release + audit + two outbox events in
 * one transaction) and the promote metadata command (alias CAS + release + audit + two outbox
 * events) against a bare single-row INSERT transaction, interleaved so all see the same machine;
 * outbox claim+ack throughput at batch 100; the relay under {@link OutboxLoad} beside the gruelbox
 * peer; retention planning read from the store.
 */
final class PostgresHarness {

  record Result(
      double finalizeP50,
      double finalizeP99,
      double insertP50,
      double insertP99,
      StoreFigures.Latency promote,
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

  static Result run(DurablePostgres pg, int samples, Laps laps) throws Exception {
    String url = pg.url();
    try (PostgresStore store =
            PostgresStore.builder()
                .jdbcUrl(url)
                .username(pg.user())
                .password(pg.password())
                .migrateOnStart(true)
                .build();
        Connection baseline = pg.connect()) {
      try (Statement s = baseline.createStatement()) {
        s.execute(
            "CREATE TABLE IF NOT EXISTS bench_insert (id bigserial PRIMARY KEY, site text, payload text, at timestamptz)");
      }
      StoreFigures.Commands commands;
      try (PreparedStatement ps =
          baseline.prepareStatement(
              "INSERT INTO bench_insert (site, payload, at) VALUES (?, ?, now())")) {
        commands =
            StoreFigures.commandLatencies(
                store,
                samples,
                (id, i) -> {
                  try {
                    ps.setString(1, "bench");
                    ps.setString(2, "{\"deployId\":\"" + id + "\"}");
                    ps.executeUpdate();
                  } catch (java.sql.SQLException e) {
                    throw new IllegalStateException("the baseline INSERT failed", e);
                  }
                });
      }
      StoreFigures.Latency finalize = commands.activate();
      double claimAck = StoreFigures.claimAckPerSecond(store);
      laps.lap("PostgreSQL metadata commands and claim+ack");
      List<OutboxLoad.Result> relay = new java.util.ArrayList<>();
      for (int producers : RELAY_PRODUCERS) {
        for (boolean notifications : new boolean[] {true, false}) {
          // Polling only is the reference the wake-up is measured against, reported without a goal:
          // a quarter of the events tells it apart and keeps the suite within its budget.
          relay.add(
              RelayHarness.run(
                  store, producers, notifications, (notifications ? 8_000 : 2_000) / producers));
        }
        relay.add(GruelboxHarness.run(url, pg.user(), pg.password(), producers, 8_000 / producers));
      }
      laps.lap("relay lag, 1/4/16 producers, beside gruelbox");
      double drain = RelayHarness.drain(store, DRAIN_EVENTS);
      double peerDrain = GruelboxHarness.drain(url, pg.user(), pg.password(), DRAIN_EVENTS);
      laps.lap("backlog drain beside gruelbox");
      PgPlanHarness.Result planning = PgPlanHarness.run(store.metadata(), 100, 100);
      CasHarness.Result cas = CasHarness.run(store, "cas-bench", 32, 50);
      CasHarness.Result casMemory =
          CasHarness.run(
              new dev.durabledeploy.store.memory.InMemoryStore(), "cas-bench", 32, 1_000);
      laps.lap("GC plan read and CAS promotes");
      return new Result(
          finalize.p50(),
          finalize.p99(),
          finalize.baselineP50(),
          finalize.baselineP99(),
          commands.promote(),
          claimAck,
          relay,
          drain,
          peerDrain,
          planning,
          cas,
          casMemory);
    }
  }
}
