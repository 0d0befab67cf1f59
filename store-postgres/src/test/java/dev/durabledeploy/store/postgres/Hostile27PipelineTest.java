package dev.durabledeploy.store.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.durabledeploy.spi.Actor;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.exception.DurableDeployException;
import dev.durabledeploy.spi.metadata.AliasRow;
import dev.durabledeploy.spi.metadata.AuditEntry;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.spi.metadata.DeployState;
import dev.durabledeploy.spi.metadata.RowSelection;
import dev.durabledeploy.spi.metadata.Site;
import dev.durabledeploy.spi.metadata.SiteProfile;
import dev.durabledeploy.spi.metadata.SiteState;
import dev.durabledeploy.spi.outbox.NewEvent;
import dev.durabledeploy.spi.outbox.OutboxEvent;
import dev.durabledeploy.testkit.fixtures.PostgresExtension;
import dev.durabledeploy.testkit.fixtures.TcpProxy;
import java.net.URI;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Hostile host against issue 27's unit of work in two round trips: multi-statement prepared texts
 * ({@link Pipeline}) with BEGIN and COMMIT among their statements.
 */
@DisplayName("hostile (issue 27): the unit of work's pipelined round trips")
class Hostile27PipelineTest {
  @RegisterExtension static final PostgresExtension PG = new PostgresExtension();

  private static final SiteId SITE = SiteId.of("hostile-site");
  private static final Duration TTL = Duration.ofSeconds(30);

  private static final List<String> HOSTILE =
      List.of(
          "'; DROP TABLE deploys; --",
          "x'); COMMIT; BEGIN; SELECT ('",
          "$1 $2 ?? ? :name :now",
          "$$ dollar $tag$ quoted $tag$",
          "back\\slash \\' \\\\",
          "/* open comment",
          "-- line comment",
          "\"double\" `tick`",
          "日本語 😀 \uD83D\uDE00 ünïcödé",
          "semi;colon;;",
          "E'\\x41'");

  private final List<AutoCloseable> closing = new ArrayList<>();

  @AfterEach
  void close() throws Exception {
    Collections.reverse(closing);
    for (AutoCloseable c : closing) {
      c.close();
    }
  }

  private PostgresStore store(String url, String schema) {
    PostgresStore store =
        PostgresStore.builder()
            .jdbcUrl(url)
            .username(PG.username())
            .password(PG.password())
            .schema(schema)
            .poolSize(1)
            .connectionTimeout(Duration.ofSeconds(5))
            .migrateOnStart(true)
            .build();
    closing.add(store);
    return store;
  }

  private Connection raw() throws Exception {
    Connection c = DriverManager.getConnection(PG.jdbcUrl(), PG.username(), PG.password());
    closing.add(c);
    return c;
  }

  private static DeployId id(int i) {
    return DeployId.forSha(Instant.parse("2026-01-01T00:00:00Z").plusSeconds(i), "abcdef" + i);
  }

  @Test
  @DisplayName(
      "quotes, semicolons, $n, ?, comments, dollar quotes, very long and non-BMP strings go through"
          + " the pipeline as values, stored exactly")
  void hostileStrings() throws Exception {
    String schema = PgStores.newSchema();
    PostgresStore store = store(PG.jdbcUrl(), schema);
    Map<String, String> labels = new LinkedHashMap<>();
    Map<String, String> payload = new LinkedHashMap<>();
    for (int i = 0; i < HOSTILE.size(); i++) {
      labels.put("k" + i, HOSTILE.get(i));
      payload.put("p" + i, HOSTILE.get(i));
    }
    String longText = "'; ".repeat(40_000) + "😀";
    payload.put("long", "'; ".repeat(5_000) + "😀");
    SiteProfile profile =
        new SiteProfile("name " + HOSTILE.get(1), "owner " + HOSTILE.get(2), labels);
    for (int round = 0; round < 8; round++) {
      // Past pgjdbc's prepareThreshold (5) the texts run as named server-side statements.
      int r = round;
      store
          .metadata()
          .inSite(
              "hostile " + HOSTILE.get(0),
              SITE,
              RowSelection.of(List.of(id(r)), List.of()),
              rows -> {
                Instant now = rows.now();
                Site before = rows.site();
                rows.putSite(
                    before == null
                        ? new Site(SITE, profile, SiteState.ACTIVE, now, now, null, 1)
                        : new Site(
                            SITE,
                            profile,
                            SiteState.ACTIVE,
                            before.createdAt(),
                            now,
                            null,
                            before.version() + 1));
                rows.putDeploy(new Deploy(SITE, id(r), null, DeployState.PENDING, now, null, null));
                rows.audit(
                    Actor.of("actor " + HOSTILE.get(r % HOSTILE.size())),
                    "act" + r,
                    HOSTILE.get((r + 3) % HOSTILE.size()),
                    longText,
                    HOSTILE.get((r + 5) % HOSTILE.size()));
                rows.emit(new NewEvent(SITE, "hostile.event", payload));
                return null;
              });
    }
    Site site = store.metadata().findSite(SITE).orElseThrow();
    assertThat(site.profile()).isEqualTo(profile);
    assertThat(site.version()).isEqualTo(8);
    assertThat(store.metadata().listDeploys(SITE)).hasSize(8);
    List<AuditEntry> audit = store.metadata().auditLog(SITE, 100);
    assertThat(audit).hasSize(8);
    for (AuditEntry e : audit) {
      int r = Integer.parseInt(e.action().substring(3));
      assertThat(e.actor().value()).isEqualTo("actor " + HOSTILE.get(r % HOSTILE.size()));
      assertThat(e.target()).isEqualTo(HOSTILE.get((r + 3) % HOSTILE.size()));
      assertThat(e.before()).isEqualTo(longText);
      assertThat(e.after()).isEqualTo(HOSTILE.get((r + 5) % HOSTILE.size()));
    }
    List<OutboxEvent> events = store.outbox().claim("reader", 100, TTL);
    assertThat(events).hasSize(8);
    events.forEach(e -> assertThat(e.payload()).isEqualTo(payload));
    // Nothing ran that the values spelled: the schema's tables are all there.
    try (Statement s = raw().createStatement();
        ResultSet rs =
            s.executeQuery(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = '"
                    + schema
                    + "' AND table_name = 'deploys'")) {
      rs.next();
      assertThat(rs.getInt(1)).isEqualTo(1);
    }
  }

  @Test
  @DisplayName(
      "an alias guard that fails mid-pipeline (the row changed under the lock) leaves nothing of"
          + " the work written, and the pool's only connection is clean for the next command")
  void casConflictMidPipeline() throws Exception {
    String schema = PgStores.newSchema();
    PostgresStore store = store(PG.jdbcUrl(), schema);
    AliasName prod = AliasName.PRODUCTION;
    store
        .metadata()
        .inSite(
            "seed",
            SITE,
            RowSelection.of(List.of(id(1)), List.of()),
            rows -> {
              rows.putDeploy(
                  new Deploy(SITE, id(1), null, DeployState.ACTIVE, rows.now(), rows.now(), null));
              rows.putAlias(prod, new AliasRow(id(1), 1, rows.now()));
              return null;
            });
    long eventsBefore = store.outbox().stats().undelivered();
    Connection intruder = raw();
    assertThatThrownBy(
            () ->
                store
                    .metadata()
                    .inSite(
                        "conflicting move",
                        SITE,
                        RowSelection.of(List.of(id(2)), List.of()),
                        rows -> {
                          AliasRow row = rows.aliases().get(prod);
                          // Another writer (not under this site's lock) moves the row meanwhile.
                          try (PreparedStatement p =
                              intruder.prepareStatement(
                                  "UPDATE "
                                      + schema
                                      + ".aliases SET version = version + 1 WHERE site = ?")) {
                            p.setString(1, SITE.value());
                            assertThat(p.executeUpdate()).isEqualTo(1);
                          } catch (java.sql.SQLException e) {
                            throw new IllegalStateException(e);
                          }
                          rows.putDeploy(
                              new Deploy(
                                  SITE,
                                  id(2),
                                  null,
                                  DeployState.ACTIVE,
                                  rows.now(),
                                  rows.now(),
                                  null));
                          rows.putAlias(prod, new AliasRow(id(2), row.version() + 1, rows.now()));
                          rows.audit(Actor.of("mallory"), "move", "production", "1", "2");
                          rows.emit(new NewEvent(SITE, "alias.moved", Map.of("to", "2")));
                          return null;
                        }))
        .isInstanceOf(DurableDeployException.class);
    assertThat(store.metadata().findDeploy(SITE, id(2))).isEmpty();
    assertThat(store.metadata().findAlias(SITE, prod).orElseThrow().target()).isEqualTo(id(1));
    assertThat(store.metadata().auditLog(SITE, 10)).noneMatch(e -> e.action().equals("move"));
    assertThat(store.outbox().stats().undelivered()).isEqualTo(eventsBefore);
    // The pool's one connection is not left in a (failed) transaction.
    store
        .metadata()
        .inSite(
            "next",
            SiteId.of("other-site"),
            RowSelection.of(List.of(id(3)), List.of()),
            rows -> {
              rows.putDeploy(
                  new Deploy(
                      SiteId.of("other-site"),
                      id(3),
                      null,
                      DeployState.PENDING,
                      rows.now(),
                      null,
                      null));
              return null;
            });
    assertThat(store.metadata().findDeploy(SiteId.of("other-site"), id(3))).isPresent();
    assertThat(idleInTransaction()).isZero();
  }

  private int idleInTransaction() throws Exception {
    try (Statement s = raw().createStatement();
        ResultSet rs =
            s.executeQuery(
                "SELECT count(*) FROM pg_stat_activity WHERE state LIKE 'idle in transaction%'")) {
      rs.next();
      return rs.getInt(1);
    }
  }

  @Test
  @DisplayName(
      "a connection cut between the pipeline's reads and its commit writes nothing, and the store"
          + " recovers once the network is back")
  void connectionCutMidPipeline() throws Exception {
    String schema = PgStores.newSchema();
    store(PG.jdbcUrl(), schema); // migrates
    try (TcpProxy proxy = TcpProxy.to(URI.create(PG.jdbcUrl().substring("jdbc:".length())))) {
      PostgresStore store = store(proxy.jdbcUrl(PG.jdbcUrl()), schema);
      assertThatThrownBy(
              () ->
                  store
                      .metadata()
                      .inSite(
                          "cut",
                          SITE,
                          RowSelection.of(List.of(id(1)), List.of()),
                          rows -> {
                            rows.putDeploy(
                                new Deploy(
                                    SITE,
                                    id(1),
                                    null,
                                    DeployState.PENDING,
                                    rows.now(),
                                    null,
                                    null));
                            rows.emit(new NewEvent(SITE, "cut.event", Map.of()));
                            proxy.cut();
                            return null;
                          }))
          .isInstanceOf(DurableDeployException.class);
      proxy.restore();
      PostgresStore direct = store(PG.jdbcUrl(), schema);
      assertThat(direct.metadata().findDeploy(SITE, id(1))).isEmpty();
      assertThat(direct.outbox().stats().undelivered()).isZero();
      org.awaitility.Awaitility.await()
          .atMost(Duration.ofSeconds(20))
          .ignoreExceptions()
          .until(
              () -> {
                store
                    .metadata()
                    .inSite(
                        "after",
                        SITE,
                        RowSelection.of(List.of(id(2)), List.of()),
                        rows -> {
                          rows.putDeploy(
                              new Deploy(
                                  SITE, id(2), null, DeployState.PENDING, rows.now(), null, null));
                          return null;
                        });
                return true;
              });
      assertThat(direct.metadata().findDeploy(SITE, id(2))).isPresent();
      assertThat(direct.metadata().findDeploy(SITE, id(1))).isEmpty();
    }
  }

  @Test
  @DisplayName(
      "a statement timeout on the pipeline's lock fails the command with nothing left open: the"
          + " pool's only connection serves the next command, and the site once its lock is free")
  void statementTimeout() throws Exception {
    String schema = PgStores.newSchema();
    String url =
        PG.jdbcUrl()
            + (PG.jdbcUrl().contains("?") ? "&" : "?")
            + "options=-c%20statement_timeout%3D500";
    PostgresStore store = store(url, schema);
    Connection holder = raw();
    try (Statement s = holder.createStatement()) {
      s.execute("SELECT pg_advisory_lock(" + Sql.lockKey("meta", schema, SITE.value()) + ")");
    }
    assertThatThrownBy(
            () ->
                store
                    .metadata()
                    .inSite(
                        "timed out",
                        SITE,
                        RowSelection.of(List.of(id(1)), List.of()),
                        rows -> {
                          rows.putDeploy(
                              new Deploy(
                                  SITE, id(1), null, DeployState.PENDING, rows.now(), null, null));
                          return null;
                        }))
        .isInstanceOf(DurableDeployException.class)
        .hasMessageContaining("57014");
    SiteId other = SiteId.of("other-site");
    store
        .metadata()
        .inSite(
            "other site",
            other,
            RowSelection.of(List.of(id(2)), List.of()),
            rows -> {
              rows.putDeploy(
                  new Deploy(other, id(2), null, DeployState.PENDING, rows.now(), null, null));
              return null;
            });
    assertThat(store.metadata().findDeploy(other, id(2))).isPresent();
    assertThat(store.metadata().findDeploy(SITE, id(1))).isEmpty();
    try (Statement s = holder.createStatement()) {
      s.execute("SELECT pg_advisory_unlock(" + Sql.lockKey("meta", schema, SITE.value()) + ")");
    }
    store
        .metadata()
        .inSite(
            "site again",
            SITE,
            RowSelection.of(List.of(id(1)), List.of()),
            rows -> {
              rows.putDeploy(
                  new Deploy(SITE, id(1), null, DeployState.PENDING, rows.now(), null, null));
              return null;
            });
    assertThat(store.metadata().findDeploy(SITE, id(1))).isPresent();
  }
}
