package dev.durabledeploy.benchmarks;

import dev.durabledeploy.core.metadata.MetadataCommands;
import dev.durabledeploy.spi.Actor;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.metadata.AliasExpectation;
import dev.durabledeploy.store.postgres.PostgresStore;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/** A probe (not part of the suite): metadata command CPU and statements vs a bare INSERT. */
final class CommandsProbe {
  public static void main(String[] args) throws Exception {
    int samples = args.length > 0 ? Integer.parseInt(args[0]) : 1000;
    int repeats = args.length > 1 ? Integer.parseInt(args[1]) : 3;
    try (EmbeddedPostgres pg =
        EmbeddedPostgres.builder()
            .setServerConfig("synchronous_commit", "on")
            .setServerConfig("fsync", "on")
            .setServerConfig("full_page_writes", "on")
            .setServerConfig("max_connections", "300")
            .setServerConfig("shared_preload_libraries", "pg_stat_statements")
            .setServerConfig("pg_stat_statements.track_planning", "on")
            .start()) {
      String url = pg.getJdbcUrl("postgres", "postgres");
      try (PostgresStore store =
              PostgresStore.builder()
                  .jdbcUrl(url)
                  .username("postgres")
                  .password("postgres")
                  .poolSize(1)
                  .migrateOnStart(true)
                  .build();
          Connection baseline = pg.getPostgresDatabase().getConnection();
          Connection probe = pg.getPostgresDatabase().getConnection()) {
        try (Statement s = probe.createStatement()) {
          s.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
          s.execute(
              "CREATE TABLE IF NOT EXISTS bench_insert (id bigserial PRIMARY KEY, site text,"
                  + " payload text, at timestamptz)");
        }
        PreparedStatement ps =
            baseline.prepareStatement(
                "INSERT INTO bench_insert (site, payload, at) VALUES (?, ?, now())");
        java.util.function.ObjLongConsumer<DeployId> bare =
            (id, i) -> {
              try {
                ps.setString(1, "bench");
                ps.setString(2, "{\"deployId\":\"" + id + "\"}");
                ps.executeUpdate();
              } catch (java.sql.SQLException e) {
                throw new IllegalStateException(e);
              }
            };
        for (int r = 0; r < repeats; r++) {
          StoreFigures.Commands c = StoreFigures.commandLatencies(store, samples, bare);
          System.out.printf(
              "wall r%d: activate p50 %.0f (bare %.0f) = %.2fx; promote p50 %.0f (bare %.0f) = %.2fx%n",
              r,
              c.activate().p50(),
              c.activate().baselineP50(),
              c.activate().p50() / c.activate().baselineP50(),
              c.promote().p50(),
              c.promote().baselineP50(),
              c.promote().p50() / c.promote().baselineP50());
          // wipe the site so each repeat starts alike
          try (Statement s = probe.createStatement()) {
            for (String t : new String[] {"deploys", "aliases", "tombstones", "sites", "outbox"}) {
              s.execute("DELETE FROM durable_deploy." + t + " WHERE site = 'bench'");
            }
          }
        }
        // CPU: store backends vs baseline backend
        int basePid = pid(baseline);
        int probePid = pid(probe);
        List<Integer> storePids = new ArrayList<>();
        try (Statement s = probe.createStatement();
            ResultSet rs =
                s.executeQuery(
                    "SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend'")) {
          while (rs.next()) {
            int p = rs.getInt(1);
            if (p != basePid && p != probePid) storePids.add(p);
          }
        }
        MetadataCommands commands = new MetadataCommands(store.metadata());
        SiteId site = SiteId.of("cpu");
        Instant base = Instant.parse("2026-01-01T00:00:00Z");
        int n = samples;
        DeployId[] ids = new DeployId[n + 1];
        for (int i = 0; i < ids.length; i++) {
          ids[i] = DeployId.forSha(base.plusSeconds(i), String.format("%07x", i));
          commands.createPending(site, ids[i], null, Actor.SYSTEM);
        }
        commands.activate(site, ids[0], AliasName.PRODUCTION, AliasExpectation.ANY, Actor.SYSTEM);
        try (Statement s = probe.createStatement()) {
          s.execute("SELECT pg_stat_statements_reset()");
        }
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        long storeCpu0 = ticks(storePids), baseCpu0 = ticks(List.of(basePid));
        long clientCmd = 0, clientBare = 0;
        for (int i = 1; i <= n; i++) {
          long a = mx.getCurrentThreadCpuTime();
          commands.activate(site, ids[i], AliasName.PRODUCTION, AliasExpectation.ANY, Actor.SYSTEM);
          commands.moveAlias(
              site, AliasName.PRODUCTION, ids[i - 1], AliasExpectation.ANY, Actor.SYSTEM);
          long b = mx.getCurrentThreadCpuTime();
          bare.accept(ids[i], i);
          bare.accept(ids[i], i);
          long c = mx.getCurrentThreadCpuTime();
          clientCmd += b - a;
          clientBare += c - b;
        }
        long storeCpu = ticks(storePids) - storeCpu0, baseCpu = ticks(List.of(basePid)) - baseCpu0;
        double tick = 1e6 / 100; // us per tick (CLK_TCK 100)
        System.out.printf(
            "server CPU per command %.0f us vs bare %.0f us; client CPU per command %.0f us vs bare %.0f us%n",
            storeCpu * tick / (2.0 * n),
            baseCpu * tick / (2.0 * n),
            clientCmd / 1e3 / (2.0 * n),
            clientBare / 1e3 / (2.0 * n));
        try (Statement s = probe.createStatement();
            ResultSet rs =
                s.executeQuery(
                    "SELECT calls, plans, round(total_plan_time::numeric/greatest(calls,1)*1000) AS plan_us,"
                        + " round(total_exec_time::numeric/greatest(calls,1)*1000) AS exec_us,"
                        + " left(regexp_replace(query, '\\s+', ' ', 'g'), 90) AS q"
                        + " FROM pg_stat_statements WHERE calls >= "
                        + n
                        + " ORDER BY total_plan_time + total_exec_time DESC LIMIT 25")) {
          long calls = 0;
          double plan = 0, exec = 0;
          while (rs.next()) {
            System.out.printf(
                "  calls %6d plans %6d plan %4d us exec %4d us  %s%n",
                rs.getLong(1), rs.getLong(2), rs.getLong(3), rs.getLong(4), rs.getString(5));
          }
        }
        try (Statement s = probe.createStatement();
            ResultSet rs =
                s.executeQuery(
                    "SELECT sum(calls), sum(plans), sum(total_plan_time), sum(total_exec_time) FROM pg_stat_statements"
                        + " WHERE query NOT LIKE '%bench_insert%' AND query NOT LIKE '%pg_stat%'")) {
          rs.next();
          System.out.printf(
              "store statements per command %.1f, plans per command %.1f, plan %.0f us + exec %.0f us per command%n",
              rs.getLong(1) / (2.0 * n),
              rs.getLong(2) / (2.0 * n),
              rs.getDouble(3) * 1000 / (2.0 * n),
              rs.getDouble(4) * 1000 / (2.0 * n));
        }
      }
    }
  }

  private static int pid(Connection c) throws Exception {
    try (Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT pg_backend_pid()")) {
      rs.next();
      return rs.getInt(1);
    }
  }

  private static long ticks(List<Integer> pids) throws Exception {
    long t = 0;
    for (int p : pids) {
      String stat = Files.readString(Path.of("/proc/" + p + "/stat"));
      String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      t += Long.parseLong(f[11]) + Long.parseLong(f[12]);
    }
    return t;
  }
}
