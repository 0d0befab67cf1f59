package dev.durabledeploy.store.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import dev.durabledeploy.testkit.fixtures.PostgresExtension;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
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
}
