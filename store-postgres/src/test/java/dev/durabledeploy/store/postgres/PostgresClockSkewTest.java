package dev.durabledeploy.store.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.durabledeploy.spi.JobKey;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.exception.SiteBusyException;
import dev.durabledeploy.spi.lease.Lease;
import dev.durabledeploy.spi.lock.SiteLock;
import dev.durabledeploy.testkit.fixtures.PostgresExtension;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Item 8 of issue 21: hosts whose clocks disagree. Expiry between hosts is decided on the database
 * server's clock, so a host whose clock runs ahead by more than a lease's TTL can neither take a
 * live lease or lock of another host, nor keep its own past their real expiry.
 */
@DisplayName("PostgreSQL leases and locks between hosts whose clocks disagree")
class PostgresClockSkewTest {

  @RegisterExtension static final PostgresExtension PG = new PostgresExtension();
  private static final JobKey JOB = JobKey.of("index:site-a");
  private static final SiteId SITE = SiteId.of("site-a");
  private static final Duration TTL = Duration.ofSeconds(30);

  /** Further ahead than the TTL. */
  private static final Duration AHEAD = TTL.multipliedBy(2).plusMinutes(1);

  private final List<PostgresStore> opened = new ArrayList<>();

  @AfterEach
  void close() {
    opened.forEach(PostgresStore::close);
  }

  private PostgresStore host(String schema, Clock clock) {
    PostgresStore store =
        PostgresStore.builder()
            .jdbcUrl(PG.jdbcUrl())
            .username(PG.username())
            .password(PG.password())
            .schema(schema)
            .clock(clock)
            .migrateOnStart(true)
            .build();
    opened.add(store);
    return store;
  }

  @Test
  @DisplayName("a host whose clock is ahead by more than the TTL cannot take a live lease")
  void aheadCannotSteal() {
    String schema = PgStores.newSchema();
    PostgresStore onTime = host(schema, Clock.systemUTC());
    PostgresStore ahead = host(schema, Clock.offset(Clock.systemUTC(), AHEAD));
    Lease live = onTime.jobLeases().tryAcquire(JOB, "on-time#1", TTL).orElseThrow();

    assertThat(ahead.jobLeases().tryAcquire(JOB, "ahead#1", TTL)).isEmpty();
    assertThat(ahead.jobLeases().listExpired(10)).isEmpty();
    assertThat(ahead.jobLeases().find(JOB)).contains(live);
    assertThat(onTime.jobLeases().renew(JOB, "on-time#1", TTL)).isPresent();
  }

  @Test
  @DisplayName("a host whose clock is ahead cannot take a held site lock")
  void aheadCannotTakeALock() {
    String schema = PgStores.newSchema();
    PostgresStore onTime = host(schema, Clock.systemUTC());
    PostgresStore ahead = host(schema, Clock.offset(Clock.systemUTC(), AHEAD));
    try (SiteLock held = onTime.siteLocks().acquire(SITE, Duration.ofSeconds(5))) {
      assertThatThrownBy(() -> ahead.siteLocks().acquire(SITE, Duration.ofMillis(500)))
          .isInstanceOf(SiteBusyException.class);
      assertThat(held.isHeld()).isTrue();
    }
  }

  @Test
  @DisplayName("the lease of a dead host whose clock ran ahead is free once its TTL really passed")
  void aheadHolderExpiresOnTime() {
    String schema = PgStores.newSchema();
    PostgresStore onTime = host(schema, Clock.systemUTC());
    PostgresStore ahead = host(schema, Clock.offset(Clock.systemUTC(), AHEAD));
    Duration shortTtl = Duration.ofSeconds(1);
    ahead.jobLeases().tryAcquire(JOB, "ahead#1", shortTtl).orElseThrow();
    // The ahead host dies; its lease says it expires a few minutes from the others' point of view.
    Lease taken =
        await("the lease is free after about its TTL, not after the writer's clock error")
            .atMost(Duration.ofSeconds(15))
            .until(() -> onTime.jobLeases().tryAcquire(JOB, "on-time#1", TTL), l -> l.isPresent())
            .orElseThrow();
    assertThat(taken.owner()).isEqualTo("on-time#1");
    assertThat(taken.attempt()).isEqualTo(2);
  }
}
