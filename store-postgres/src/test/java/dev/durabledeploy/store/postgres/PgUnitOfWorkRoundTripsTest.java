package dev.durabledeploy.store.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.durabledeploy.spi.Actor;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.metadata.AliasRow;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.spi.metadata.DeployState;
import dev.durabledeploy.spi.metadata.MetadataStore;
import dev.durabledeploy.spi.metadata.RowSelection;
import dev.durabledeploy.spi.outbox.NewEvent;
import dev.durabledeploy.testkit.fixtures.PostgresExtension;
import dev.durabledeploy.testkit.fixtures.TcpProxy;
import java.net.URI;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

@DisplayName("a PostgreSQL unit of work")
class PgUnitOfWorkRoundTripsTest {

  @RegisterExtension static final PostgresExtension PG = new PostgresExtension();
  private static final SiteId SITE = SiteId.of("site-a");
  private static final AliasName PROD = AliasName.PRODUCTION;

  private static PostgresStore store(String url) {
    return PostgresStore.builder()
        .jdbcUrl(url)
        .username(PG.username())
        .password(PG.password())
        .schema(PgStores.newSchema())
        .poolSize(1)
        .migrateOnStart(true)
        .build();
  }

  private static DeployId id(int i) {
    return DeployId.forSha(Instant.parse("2026-01-01T00:00:00Z").plusSeconds(i), "abcdef" + i);
  }

  private static void create(MetadataStore metadata, DeployId id) {
    metadata.inSite(
        "test.create",
        SITE,
        RowSelection.of(List.of(id), List.of()),
        s -> {
          s.putDeploy(new Deploy(SITE, id, null, DeployState.PENDING, s.now(), null, null));
          return null;
        });
  }

  /** What a finalize does: the deploy ACTIVE, the alias moved, the previous target released. */
  private static void activate(MetadataStore metadata, DeployId id) {
    metadata.inSite(
        "test.activate",
        SITE,
        RowSelection.of(List.of(id), List.of()),
        s -> {
          Deploy d = s.deploy(id);
          AliasRow row = s.aliases().get(PROD);
          s.putAlias(PROD, new AliasRow(id, row == null ? 1 : row.version() + 1, s.now()));
          if (row != null) {
            Deploy previous = s.deploy(row.target());
            s.putDeploy(
                new Deploy(
                    SITE,
                    previous.id(),
                    null,
                    previous.state(),
                    previous.createdAt(),
                    previous.finalizedAt(),
                    s.now()));
          }
          s.putDeploy(new Deploy(SITE, id, null, DeployState.ACTIVE, d.createdAt(), s.now(), null));
          s.audit(Actor.SYSTEM, "test.activate", id.value(), null, PROD.value());
          s.emit(new NewEvent(SITE, "test.alias", Map.of("target", id.value())));
          s.emit(new NewEvent(SITE, "test.site", Map.of()));
          return null;
        });
  }

  @Test
  @DisplayName(
      "takes two round trips: the lock with every row it selected, then its writes, events and"
          + " commit")
  void twoRoundTrips() {
    try (TcpProxy proxy = TcpProxy.to(URI.create(PG.jdbcUrl().substring("jdbc:".length())));
        PostgresStore store = store(proxy.jdbcUrl(PG.jdbcUrl()))) {
      MetadataStore metadata = store.metadata();
      int commands = 12;
      for (int i = 0; i < commands; i++) {
        create(metadata, id(i));
      }
      List<Long> trips = new ArrayList<>();
      for (int i = 0; i < commands; i++) {
        long before = proxy.roundTrips();
        activate(metadata, id(i));
        trips.add(proxy.roundTrips() - before);
      }
      // The median: a pool may validate a connection idle for a while (one more round trip).
      assertThat(trips.stream().sorted().toList().get(commands / 2)).as("%s", trips).isEqualTo(2);
      assertThat(metadata.findAlias(SITE, PROD).orElseThrow().target()).isEqualTo(id(commands - 1));
      assertThat(metadata.findDeploy(SITE, id(0)).orElseThrow().releasedAt()).isNotNull();
      assertThat(metadata.auditLog(SITE, 100)).hasSize(commands);
    }
  }

  @Test
  @DisplayName(
      "reads the selected deploys by their keys, not every deploy of the site, with or without"
          + " statistics and in the generic plan of a prepared statement")
  void selectedDeploysByIndex() throws Exception {
    String schema = PgStores.newSchema();
    try (PostgresStore store = PgStores.on(PG, schema);
        java.sql.Connection c = PG.dataSource().getConnection()) {
      try (java.sql.Statement s = c.createStatement()) {
        s.execute(
            "INSERT INTO "
                + schema
                + ".deploys (site, deploy_id, state, created_at) SELECT 'site-a', 'd' || i,"
                + " 'ACTIVE', now() FROM generate_series(1, 5000) i");
        s.execute(
            "INSERT INTO "
                + schema
                + ".aliases (site, name, deploy_id, version, updated_at)"
                + " VALUES ('site-a', 'production', 'd7', 1, now())");
      }
      // The driver runs the read as a server-side prepared statement: its generic plan, costed
      // without the parameters' values, on a table never analysed (new, or grown since) scanned
      // the site's every deploy with the keys as a filter.
      for (boolean analysed : new boolean[] {false, true}) {
        try (java.sql.Statement s = c.createStatement()) {
          if (analysed) {
            s.execute("ANALYZE " + schema + ".deploys");
            s.execute("ANALYZE " + schema + ".aliases");
          }
          s.execute("SET plan_cache_mode = force_generic_plan");
        }
        String plan = explainAnalyze(c, PgMetadataStore.selectedDeploysSql(schema));
        assertThat(plan)
            .as("analysed: %s%n%s", analysed, plan)
            .containsPattern(
                "Index Cond: \\(\\(site = .*\\) AND \\(deploy_id = k\\.deploy_id\\)\\)")
            .doesNotContain("Rows Removed by Filter")
            .doesNotContain("SubPlan")
            .doesNotContainPattern("Bitmap Index Scan on deploys");
        assertThat(plan)
            .as("%s", plan)
            .containsPattern("(?m)^Nested Loop \\(actual rows=2 loops=1\\)$");
      }
      try (java.sql.Statement s = c.createStatement()) {
        s.execute("RESET plan_cache_mode");
      }
    }
  }

  @Test
  @DisplayName(
      "plans its statements once per connection, the outbox append included, not on every call")
  void genericPlans() throws Exception {
    try (java.sql.Connection c = PG.dataSource().getConnection();
        PostgresStore store =
            PostgresStore.builder()
                .dataSource(new OneConnection(c))
                .schema(PgStores.newSchema())
                .migrateOnStart(true)
                .build()) {
      MetadataStore metadata = store.metadata();
      int commands = 12;
      for (int i = 0; i < commands; i++) {
        create(metadata, id(i));
        activate(metadata, id(i));
      }
      // The driver prepares a statement on the server from its fifth use. PostgreSQL plans the
      // first five executions of a prepared statement anew (custom plans) before it compares, and
      // it went on choosing custom plans for the append, planned on every call.
      List<String> plans = new ArrayList<>();
      try (java.sql.Statement s = c.createStatement();
          java.sql.ResultSet rs =
              s.executeQuery(
                  "SELECT generic_plans, custom_plans, statement FROM pg_prepared_statements"
                      + " WHERE statement LIKE '%.outbox (site, type, payload, created_at,%'")) {
        while (rs.next()) {
          plans.add(rs.getLong(1) + " generic, " + rs.getLong(2) + " custom");
        }
      }
      assertThat(plans).singleElement().asString().matches("[1-9][0-9]* generic, 0 custom");
    }
  }

  @Test
  @DisplayName(
      "appends to the outbox looking up the site's undelivered events in their index, in the"
          + " generic plan, with or without statistics")
  void outboxAppendByIndex() throws Exception {
    String schema = PgStores.newSchema();
    try (PostgresStore store = PgStores.on(PG, schema);
        java.sql.Connection c = PG.dataSource().getConnection()) {
      try (java.sql.Statement s = c.createStatement()) {
        s.execute(
            "INSERT INTO "
                + schema
                + ".outbox (site, type, payload, created_at, next_attempt_at, delivered_at)"
                + " SELECT 'site-' || (i % 50), 'e', '{}', now(), now(),"
                + " CASE WHEN i % 10 <> 0 THEN now() END FROM generate_series(1, 5000) i");
      }
      String sql =
          ((PgOutbox) store.outbox())
              .appending(
                  Instant.now(),
                  List.of(new NewEvent(SITE, "e", Map.of()), new NewEvent(SITE, "e", Map.of())),
                  false)
              .sql();
      for (int i = 1; sql.contains("?"); i++) {
        sql = sql.replaceFirst("\\?", "\\$" + i);
      }
      for (boolean analysed : new boolean[] {false, true}) {
        StringBuilder plan = new StringBuilder();
        c.setAutoCommit(false);
        try (java.sql.Statement s = c.createStatement()) {
          if (analysed) {
            s.execute("ANALYZE " + schema + ".outbox");
          }
          s.execute("SET LOCAL plan_cache_mode = force_generic_plan");
          // As the append's site-lock statement leaves it when it got site-3's lock.
          s.execute("SELECT set_config('" + PgOutbox.CLAIMABLE + "', 'site-3', true)");
          s.execute(
              "PREPARE append(text[], text[], text[], text, text, timestamptz, timestamptz,"
                  + " timestamptz, text) AS "
                  + sql);
          try (java.sql.ResultSet rs =
              s.executeQuery(
                  "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE append("
                      + "ARRAY['site-3', 'site-3'], ARRAY['e', 'e'], ARRAY['{}', '{}'],"
                      + " 'relay', 'relay', now(), now(), now(), 'channel')")) {
            while (rs.next()) {
              plan.append(rs.getString(1)).append('\n');
            }
          }
          s.execute("DEALLOCATE append");
        } finally {
          c.rollback();
          c.setAutoCommit(true);
        }
        assertThat(plan.toString())
            .as("analysed: %s%n%s", analysed, plan)
            .containsPattern("Index (Only )?Scan (using|on) outbox_undelivered_by_site")
            .containsPattern("Index Cond: \\(site = v\\.site\\)")
            .doesNotContain("hashed SubPlan")
            .doesNotContain("Seq Scan on outbox")
            .doesNotContain("using outbox_undelivered on");
      }
    }
  }

  /** The plan the selected-deploys read ran with (keys d42 and d7's alias), with its counts. */
  private static String explainAnalyze(java.sql.Connection c, String sql) throws Exception {
    StringBuilder plan = new StringBuilder();
    try (java.sql.Statement s = c.createStatement()) {
      s.execute("DEALLOCATE ALL");
      s.execute(
          "PREPARE selected(text[], text, text) AS "
              + sql.replaceFirst("\\?", "\\$1")
                  .replaceFirst("\\?", "\\$2")
                  .replaceFirst("\\?", "\\$3"));
      try (java.sql.ResultSet rs =
          s.executeQuery(
              "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)"
                  + " EXECUTE selected(ARRAY['d42'], 'site-a', 'site-a')")) {
        while (rs.next()) {
          plan.append(rs.getString(1)).append('\n');
        }
      }
      s.execute("DEALLOCATE selected");
    }
    return plan.toString();
  }

  @Test
  @DisplayName(
      "that throws leaves no transaction on the connection: the next one commits only its own writes")
  void failedWorkRollsBack() {
    try (PostgresStore store = store(PG.jdbcUrl())) {
      MetadataStore metadata = store.metadata();
      assertThatThrownBy(
              () ->
                  metadata.inSite(
                      "test.fails",
                      SITE,
                      RowSelection.of(List.of(id(1)), List.of()),
                      s -> {
                        s.putDeploy(
                            new Deploy(
                                SITE, id(1), null, DeployState.PENDING, s.now(), null, null));
                        // A read the first round trip did not cover sends the queued write first.
                        assertThat(s.deployCount()).isEqualTo(1);
                        throw new IllegalArgumentException("refused");
                      }))
          .isInstanceOf(IllegalArgumentException.class);
      create(metadata, id(2)); // on the pool's only connection
      assertThat(metadata.listDeploys(SITE)).extracting(Deploy::id).containsExactly(id(2));
    }
  }
}
