package dev.durabledeploy.store.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.zaxxer.hikari.HikariDataSource;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.events.Subscription;
import dev.durabledeploy.spi.exception.ConfigurationException;
import dev.durabledeploy.spi.exception.SiteBusyException;
import dev.durabledeploy.spi.lock.SiteLock;
import dev.durabledeploy.spi.outbox.NewEvent;
import dev.durabledeploy.testkit.fixtures.PostgresExtension;
import dev.durabledeploy.testkit.fixtures.PostgresServer;
import dev.durabledeploy.testkit.tck.Rows;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The store on the host's own connection pool: what it takes from it, that it gives everything back
 * clean, and what it refuses at build.
 */
@DisplayName("PostgresStore on the host's connection pool")
class PostgresHostPoolTest {

  @RegisterExtension static final PostgresExtension PG = new PostgresExtension();
  private static final SiteId SITE = SiteId.of("site-a");

  private static PostgresStore onPool(HikariDataSource pool) {
    return PgStores.onHostPool(PG, pool, Clock.systemUTC());
  }

  @Test
  @DisplayName(
      "after a caller timed out on a busy lock, every host connection is free, with no"
          + " lock_timeout, advisory lock or LISTEN on it")
  void cleanAfterLockTimeout() throws Exception {
    try (HikariDataSource pool = HostPools.open(PG, 2);
        PostgresStore store = onPool(pool)) {
      try (SiteLock held = store.siteLocks().acquire(SITE, Duration.ofSeconds(5))) {
        assertThatThrownBy(
                () ->
                    CompletableFuture.supplyAsync(
                            () -> store.siteLocks().acquire(SITE, Duration.ofMillis(300)))
                        .get(30, TimeUnit.SECONDS))
            .hasRootCauseInstanceOf(SiteBusyException.class);
        // While a lock is held, too: holding it takes no connection of the host's.
        HostPools.assertAllFreeAndClean(pool);
        assertThat(held.isHeld()).isTrue();
      }
      HostPools.assertAllFreeAndClean(pool);
    }
  }

  @Test
  @DisplayName(
      "after an unlock that failed because the database was down, every host connection is free"
          + " and clean, and the site is free again")
  void cleanAfterFailedUnlock() throws Exception {
    PostgresServer server = PostgresExtension.server();
    try (HikariDataSource pool = HostPools.open(PG, 2);
        PostgresStore store = onPool(pool)) {
      SiteLock held = store.siteLocks().acquire(SITE, Duration.ofSeconds(5));
      server.stop();
      try {
        held.close(); // cannot reach the database: must neither throw nor leave anything behind
        assertThat(held.isHeld()).isFalse();
      } finally {
        server.restart();
      }
      try (SiteLock again =
          await("the site is free once the database is back")
              .atMost(PgStores.LOCK_TTL.plusSeconds(30))
              .ignoreExceptions()
              .until(() -> store.siteLocks().acquire(SITE, Duration.ofSeconds(5)), l -> true)) {
        assertThat(again.isHeld()).isTrue();
      }
      await("the host's pool replaced its broken connections")
          .atMost(Duration.ofSeconds(30))
          .ignoreExceptions()
          .untilAsserted(() -> HostPools.assertAllFreeAndClean(pool));
    }
  }

  @Test
  @DisplayName(
      "LISTEN takes one host connection while a relay listens, and leaves none behind on close")
  void listenConnection() throws Exception {
    String schema = PgStores.newSchema();
    try (HikariDataSource pool = HostPools.open(PG, 4)) {
      PostgresStore store =
          PostgresStore.builder().dataSource(pool).schema(schema).migrateOnStart(true).build();
      try (PostgresStore writer = PostgresStore.builder().dataSource(pool).schema(schema).build()) {
        AtomicInteger wakes = new AtomicInteger();
        Subscription subscription = store.outbox().onAppend(wakes::incrementAndGet).orElseThrow();
        await().atMost(Duration.ofSeconds(10)).until(() -> wakes.get() >= 1);
        int before = wakes.get();
        writer.outbox().append(new NewEvent(SITE, "e.x", Map.of()));
        await().atMost(Duration.ofSeconds(10)).until(() -> wakes.get() > before);
        // The LISTEN connection is the one the budget says; the other three stay the host's.
        HostPools.assertFreeAndClean(pool, 3);
        subscription.close();
      } finally {
        store.close();
      }
      HostPools.assertAllFreeAndClean(pool);
    }
  }

  @Test
  @DisplayName(
      "poolSize(1) with migrateOnStart builds, migrates and serves locks, commands and LISTEN")
  void poolOfOne() {
    try (PostgresStore store =
        PostgresStore.builder()
            .jdbcUrl(PG.jdbcUrl())
            .username(PG.username())
            .password(PG.password())
            .schema(PgStores.newSchema())
            .poolSize(1)
            .migrateOnStart(true)
            .build()) {
      AtomicInteger wakes = new AtomicInteger();
      try (Subscription listening = store.outbox().onAppend(wakes::incrementAndGet).orElseThrow()) {
        try (SiteLock lock = store.siteLocks().acquire(SITE, Duration.ofSeconds(5))) {
          Rows.pending(store.metadata(), SITE, DeployId.of("20260115-100000-abc1234"));
          assertThat(store.metadata().listDeploys(SITE)).hasSize(1);
          assertThat(lock.isHeld()).isTrue();
        }
        await("LISTEN is in place on a connection of its own").until(() -> wakes.get() >= 1);
      }
    }
  }

  @Test
  @DisplayName("a host pool too small for the store is refused at build, naming dataSource")
  void tooSmallHostPool() {
    try (HikariDataSource pool = HostPools.open(PG, 1)) {
      assertThatThrownBy(() -> onPool(pool))
          .isInstanceOfSatisfying(
              ConfigurationException.class,
              e -> {
                assertThat(e.property()).isEqualTo("dataSource");
                assertThat(e.getMessage()).contains("maximumPoolSize").contains("1");
              });
    }
  }
}
