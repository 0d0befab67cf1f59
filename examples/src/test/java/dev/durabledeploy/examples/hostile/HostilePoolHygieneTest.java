package dev.durabledeploy.examples.hostile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.zaxxer.hikari.HikariDataSource;
import dev.durabledeploy.core.metadata.MetadataCommands;
import dev.durabledeploy.spi.Actor;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.events.Subscription;
import dev.durabledeploy.spi.exception.SiteBusyException;
import dev.durabledeploy.spi.lock.SiteLock;
import dev.durabledeploy.spi.metadata.AliasExpectation;
import dev.durabledeploy.store.postgres.PostgresStore;
import dev.durabledeploy.testkit.fixtures.PostgresExtension;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** What the store leaves on the host's connections, on every path a host can reach. */
@DisplayName("hostile: nothing of the store's is left on a host's pooled connection")
class HostilePoolHygieneTest {

  @RegisterExtension static final PostgresExtension PG = new PostgresExtension();
  private static final SiteId SITE = SiteId.of("hygiene");

  @Test
  @DisplayName("migrateOnStart on a pool of 2, then a second build that checks migrations")
  void afterMigrateAndCheck() throws Exception {
    String schema = HostileSupport.newSchema("hyg");
    try (HikariDataSource pool = HostileSupport.hostPool(PG, 2, c -> {})) {
      PostgresStore.builder().dataSource(pool).schema(schema).migrateOnStart(true).build().close();
      HostileSupport.assertAllPristine(PG, pool);
      PostgresStore.builder().dataSource(pool).schema(schema).build().close();
      HostileSupport.assertAllPristine(PG, pool);
      // migrate() called on an existing store, as a host's admin endpoint would
      try (PostgresStore store = PostgresStore.builder().dataSource(pool).schema(schema).build()) {
        store.migrate();
      }
      HostileSupport.assertAllPristine(PG, pool);
    }
  }

  @Test
  @DisplayName(
      "a failed command inside a store transaction (alias drift) leaves no open transaction")
  void afterFailedTransaction() throws Exception {
    String schema = HostileSupport.newSchema("hyg");
    try (HikariDataSource pool = HostileSupport.hostPool(PG, 2, c -> {});
        PostgresStore store =
            PostgresStore.builder().dataSource(pool).schema(schema).migrateOnStart(true).build()) {
      DeployId id = DeployId.of("20260115-100000-abc1234");
      new MetadataCommands(store.metadata()).createPending(SITE, id, null, Actor.SYSTEM);
      assertThatThrownBy(
              () ->
                  new MetadataCommands(store.metadata())
                      .moveAlias(
                          SITE,
                          AliasName.PRODUCTION,
                          id,
                          AliasExpectation.version(42),
                          Actor.SYSTEM))
          .isInstanceOf(RuntimeException.class);
      HostileSupport.assertAllPristine(PG, pool);
    }
  }

  @Test
  @DisplayName(
      "LISTEN's connection killed by pg_terminate_backend: re-listens, and gives back clean")
  void listenConnectionKilled() throws Exception {
    String schema = HostileSupport.newSchema("hyg");
    try (HikariDataSource pool =
        HostileSupport.hostPool(PG, 3, c -> c.setConnectionTimeout(2000))) {
      PostgresStore store =
          PostgresStore.builder().dataSource(pool).schema(schema).migrateOnStart(true).build();
      AtomicInteger wakes = new AtomicInteger();
      try (Subscription s = store.outbox().onAppend(wakes::incrementAndGet).orElseThrow()) {
        await().atMost(Duration.ofSeconds(10)).until(() -> wakes.get() >= 1);
        int killed = terminateListeners();
        assertThat(killed).isEqualTo(1);
        await("LISTEN is back after its connection was killed")
            .atMost(Duration.ofSeconds(20))
            .until(() -> listeners() == 1);
        int before = wakes.get();
        store
            .outbox()
            .append(new dev.durabledeploy.spi.outbox.NewEvent(SITE, "e.x", java.util.Map.of()));
        await().atMost(Duration.ofSeconds(10)).until(() -> wakes.get() > before);
      } finally {
        store.close();
      }
      HostileSupport.assertAllPristine(PG, pool);
    }
  }

  private static int listeners() throws Exception {
    try (Connection c = PG.dataSource().getConnection();
        Statement s = c.createStatement()) {
      return Integer.parseInt(
          HostileSupport.one(
              s,
              "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'LISTEN%'"
                  + " AND pid <> pg_backend_pid()"));
    }
  }

  private static int terminateListeners() throws Exception {
    try (Connection c = PG.dataSource().getConnection();
        Statement s = c.createStatement()) {
      return Integer.parseInt(
          HostileSupport.one(
              s,
              "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                  + " WHERE query LIKE 'LISTEN%' AND pid <> pg_backend_pid()"));
    }
  }

  @Test
  @DisplayName("autoCommit=false: what a store command writes is visible to another host")
  void autoCommitOffWrites() throws Exception {
    String schema = HostileSupport.newSchema("hyg");
    try (HikariDataSource pool = HostileSupport.hostPool(PG, 4, c -> c.setAutoCommit(false));
        PostgresStore store =
            PostgresStore.builder().dataSource(pool).schema(schema).migrateOnStart(true).build();
        PostgresStore other =
            PostgresStore.builder()
                .jdbcUrl(PG.jdbcUrl())
                .username(PG.username())
                .password(PG.password())
                .schema(schema)
                .build()) {
      DeployId id = DeployId.of("20260115-100000-abc1234");
      new MetadataCommands(store.metadata()).createPending(SITE, id, null, Actor.SYSTEM);
      assertThat(other.metadata().findDeploy(SITE, id)).isPresent();
      store
          .outbox()
          .append(new dev.durabledeploy.spi.outbox.NewEvent(SITE, "e.x", java.util.Map.of()));
      java.util.Optional<dev.durabledeploy.spi.lease.Lease> lease =
          store
              .jobLeases()
              .tryAcquire(
                  dev.durabledeploy.spi.JobKey.of("job-a"), "owner-a", Duration.ofMinutes(1));
      assertThat(lease).isPresent();
      assertThat(other.jobLeases().find(dev.durabledeploy.spi.JobKey.of("job-a"))).isPresent();
      assertHostSettings(pool, false, Connection.TRANSACTION_READ_COMMITTED);
    }
  }

  /** Every connection of the pool has the host's autocommit and isolation again. */
  static void assertHostSettings(HikariDataSource pool, boolean autoCommit, int isolation)
      throws Exception {
    java.util.List<Connection> taken = new java.util.ArrayList<>();
    try {
      for (int i = 0; i < pool.getMaximumPoolSize(); i++) {
        taken.add(pool.getConnection());
      }
      for (Connection c : taken) {
        assertThat(c.getAutoCommit())
            .as("autocommit of a connection given back")
            .isEqualTo(autoCommit);
        assertThat(c.getTransactionIsolation())
            .as("isolation of a connection given back")
            .isEqualTo(isolation);
        try (Statement s = c.createStatement()) {
          assertThat(HostileSupport.one(s, "SHOW transaction_isolation"))
              .as("the session's isolation on the server")
              .isEqualTo(
                  isolation == Connection.TRANSACTION_READ_COMMITTED
                      ? "read committed"
                      : isolation == Connection.TRANSACTION_REPEATABLE_READ
                          ? "repeatable read"
                          : "serializable");
        }
        if (!autoCommit) {
          c.rollback();
        }
      }
    } finally {
      for (Connection c : taken) {
        c.close();
      }
    }
  }

  @Test
  @DisplayName(
      "a host pool with autoCommit=false is accepted, its site locks exclude another host, and its"
          + " connections go back with autocommit off")
  void autoCommitOffPool() throws Exception {
    String schema = HostileSupport.newSchema("hyg");
    try (HikariDataSource migrator = HostileSupport.hostPool(PG, 2, c -> {})) {
      PostgresStore.builder()
          .dataSource(migrator)
          .schema(schema)
          .migrateOnStart(true)
          .build()
          .close();
    }
    try (HikariDataSource pool =
        HostileSupport.hostPool(
            PG,
            4,
            c -> {
              c.setAutoCommit(false);
              c.setConnectionTimeout(2000);
            })) {
      try (PostgresStore store = PostgresStore.builder().dataSource(pool).schema(schema).build();
          PostgresStore other =
              PostgresStore.builder()
                  .jdbcUrl(PG.jdbcUrl())
                  .username(PG.username())
                  .password(PG.password())
                  .schema(schema)
                  .build()) {
        SiteLock held = store.siteLocks().acquire(SITE, Duration.ofSeconds(5));
        try {
          assertThat(held.isHeld()).isTrue();
          assertThatThrownBy(
                  () ->
                      CompletableFuture.supplyAsync(
                              () -> other.siteLocks().acquire(SITE, Duration.ofMillis(500)))
                          .get(30, TimeUnit.SECONDS))
              .as("another host must not get a lock this host holds")
              .hasRootCauseInstanceOf(SiteBusyException.class);
        } finally {
          held.close();
        }
        try (SiteLock taken = other.siteLocks().acquire(SITE, Duration.ofSeconds(5))) {
          assertThat(taken.isHeld()).as("released for real: another host takes it").isTrue();
        }
      }
      assertHostSettings(pool, false, Connection.TRANSACTION_READ_COMMITTED);
    }
  }
}
