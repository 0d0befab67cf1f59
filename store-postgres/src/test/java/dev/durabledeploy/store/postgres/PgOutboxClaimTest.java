package dev.durabledeploy.store.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.outbox.NewEvent;
import dev.durabledeploy.spi.outbox.OutboxEvent;
import dev.durabledeploy.testkit.fixtures.PostgresExtension;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** How the PostgreSQL outbox's claim runs on a large backlog. */
class PgOutboxClaimTest {
  @RegisterExtension static final PostgresExtension PG = new PostgresExtension();

  private static final Duration TTL = Duration.ofMinutes(5);

  @Test
  @DisplayName(
      "the claim scan over a backlog whose every site is claimed hashes the blocked sites once,"
          + " never a nested loop over them")
  void claimScanPlanOnABlockedBacklog() {
    try (PostgresStore store = PgStores.fresh(PG, Clock.systemUTC())) {
      Instant now = Instant.now();
      store
          .jdbi()
          .useHandle(
              h ->
                  h.createUpdate(
                          "INSERT INTO <schema>.outbox (site, type, payload, created_at,"
                              + " next_attempt_at) SELECT 'site-' || (i % 50), 'e.x', '{}', :now,"
                              + " :now FROM generate_series(0, 9999) i")
                      .bind("now", Sql.ts(now))
                      .execute());
      // One claim per site's head: every site now has a live claim, as while a relay drains.
      assertThat(store.outbox().claim("owner-1", 50, TTL)).hasSize(50);
      store.jdbi().useHandle(h -> h.execute("ANALYZE <schema>.outbox"));

      List<String> plan =
          store
              .jdbi()
              .withHandle(
                  h ->
                      h.createQuery("EXPLAIN " + PgOutbox.CLAIM_SCAN)
                          .bind("now", Sql.ts(Instant.now()))
                          .bind("window", 400)
                          .mapTo(String.class)
                          .list());

      assertThat(String.join("\n", plan)).contains("hashed SubPlan").doesNotContain("Nested Loop");
      assertThat(store.outbox().claim("owner-2", 100, TTL)).isEmpty();
    }
  }

  @Test
  @DisplayName(
      "a claim that finds a claim in progress on the same outbox returns nothing at once instead of"
          + " queueing behind it; the next claim skips the site that one took")
  void aBusyClaimBacksOff() throws Exception {
    try (PostgresStore store = PgStores.fresh(PG, Clock.systemUTC());
        Connection other =
            DriverManager.getConnection(PG.jdbcUrl(), PG.username(), PG.password())) {
      long a1 = store.outbox().append(new NewEvent(SiteId.of("a"), "e.x", Map.of()));
      store.outbox().append(new NewEvent(SiteId.of("a"), "e.x", Map.of()));
      long b1 = store.outbox().append(new NewEvent(SiteId.of("b"), "e.x", Map.of()));
      // Another relay's claim, halfway: it holds the claim lock and has stamped site a's head.
      other.setAutoCommit(false);
      try (PreparedStatement lock =
              other.prepareStatement("SELECT 1 FROM (SELECT pg_advisory_xact_lock(?)) l");
          PreparedStatement stamp =
              other.prepareStatement(
                  "UPDATE "
                      + store.schema()
                      + ".outbox SET claimed_by = 'owner-1', claim_expires_at = now() + interval"
                      + " '5 minutes' WHERE id = ?")) {
        lock.setLong(1, PgOutbox.claimLockKey(store.schema()));
        lock.executeQuery().close();
        stamp.setLong(1, a1);
        stamp.executeUpdate();
      }

      // On this thread: a claim that queued on the lock would never return before the commit.
      assertThat(store.outbox().claim("owner-2", 10, TTL)).isEmpty();
      assertThat(waitingForAdvisoryLocks()).isZero();
      other.commit();

      assertThat(store.outbox().claim("owner-2", 10, TTL))
          .extracting(OutboxEvent::id)
          .containsExactly(b1);
    }
  }

  private static long waitingForAdvisoryLocks() throws Exception {
    try (Connection c = DriverManager.getConnection(PG.jdbcUrl(), PG.username(), PG.password());
        ResultSet rs =
            c.createStatement()
                .executeQuery(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                        + " AND database = (SELECT oid FROM pg_database"
                        + " WHERE datname = current_database())")) {
      rs.next();
      return rs.getLong(1);
    }
  }
}
