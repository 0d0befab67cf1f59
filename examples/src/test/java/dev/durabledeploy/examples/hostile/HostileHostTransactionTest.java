package dev.durabledeploy.examples.hostile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import com.zaxxer.hikari.HikariDataSource;
import dev.durabledeploy.core.metadata.MetadataCommands;
import dev.durabledeploy.spi.Actor;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.store.postgres.PostgresStore;
import dev.durabledeploy.testkit.fixtures.PostgresExtension;
import java.io.PrintWriter;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.SQLFeatureNotSupportedException;
import java.sql.Statement;
import java.util.logging.Logger;
import javax.sql.DataSource;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A host whose DataSource is transaction-aware (Spring's TransactionAwareDataSourceProxy and the
 * like): inside the host's open transaction it hands out the transaction's own connection, whose
 * close() does nothing. The store switches borrowed connections to autocommit (295238c); on such a
 * connection that switch commits the host's transaction half-way.
 */
@DisplayName("hostile: a store call inside the host's own open transaction")
class HostileHostTransactionTest {

  @RegisterExtension static final PostgresExtension PG = new PostgresExtension();
  private static final SiteId SITE = SiteId.of("host-tx");

  @Test
  @DisplayName(
      "a transaction-aware host DataSource: a store call inside the host's open transaction does"
          + " not commit the host's pending writes")
  void storeCallDoesNotCommitTheHostsTransaction() throws Exception {
    String schema = HostileSupport.newSchema("htx");
    String table = schema + "_orders";
    try (HikariDataSource pool = HostileSupport.hostPool(PG, 4, c -> {})) {
      try (Connection c = pool.getConnection();
          Statement s = c.createStatement()) {
        s.execute("CREATE TABLE " + table + " (id int)");
      }
      ThreadLocal<Connection> bound = new ThreadLocal<>();
      DataSource txAware = new TransactionAware(pool, bound);
      try (PostgresStore store =
          PostgresStore.builder().dataSource(txAware).schema(schema).migrateOnStart(true).build()) {
        Throwable outcome;
        try (Connection tx = pool.getConnection()) {
          tx.setAutoCommit(false);
          try (Statement s = tx.createStatement()) {
            s.execute("INSERT INTO " + table + " VALUES (1)");
          }
          bound.set(tx);
          try {
            // The store may refuse, or do its work elsewhere; it must not commit the host's row.
            outcome =
                catchThrowable(
                    () ->
                        new MetadataCommands(store.metadata())
                            .createPending(
                                SITE, DeployId.of("20260115-100000-abc1234"), null, Actor.SYSTEM));
          } finally {
            bound.remove();
          }
          tx.rollback();
          tx.setAutoCommit(true);
        }
        try (Connection c = pool.getConnection();
            Statement s = c.createStatement()) {
          // Found by the hostile review of 295238c: StoreConnections' setAutoCommit(true) on the
          // host's transaction connection committed the host's pending INSERT, so its rollback
          // undid nothing (1 row, and the store call succeeded). The store now refuses.
          assertThat(HostileSupport.one(s, "SELECT count(*) FROM " + table))
              .as("host rows left after the host rolled back (store call outcome: %s)", outcome)
              .isEqualTo("0");
        }
        assertThat(outcome)
            .isInstanceOf(IllegalStateException.class)
            .hasMessageContaining("inside an open transaction");
      }
    }
  }

  @Test
  @DisplayName(
      "a plain driver DataSource (PGSimpleDataSource, no pool) whose sessions default to"
          + " SERIALIZABLE: commands commit, 6 threads contending for one site's lock all get it,"
          + " and the lock excludes another host")
  void plainDriverDataSourceWithSerializableDefault() throws Exception {
    String schema = HostileSupport.newSchema("htx");
    org.postgresql.ds.PGSimpleDataSource plain = new org.postgresql.ds.PGSimpleDataSource();
    plain.setURL(PG.jdbcUrl());
    plain.setUser(PG.username());
    plain.setPassword(PG.password());
    plain.setOptions("-c default_transaction_isolation=serializable");
    try (PostgresStore store =
            PostgresStore.builder().dataSource(plain).schema(schema).migrateOnStart(true).build();
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
      java.util.concurrent.ExecutorService threads =
          java.util.concurrent.Executors.newFixedThreadPool(6);
      try {
        java.util.List<java.util.concurrent.Future<Integer>> takes = new java.util.ArrayList<>();
        for (int i = 0; i < 6; i++) {
          takes.add(
              threads.submit(
                  () -> {
                    int n = 0;
                    for (int round = 0; round < 5; round++) {
                      try (dev.durabledeploy.spi.lock.SiteLock l =
                          store.siteLocks().acquire(SITE, java.time.Duration.ofSeconds(20))) {
                        n += l.isHeld() ? 1 : 0;
                      }
                    }
                    return n;
                  }));
        }
        for (java.util.concurrent.Future<Integer> f : takes) {
          assertThat(f.get(120, java.util.concurrent.TimeUnit.SECONDS)).isEqualTo(5);
        }
      } finally {
        threads.shutdownNow();
      }
      try (dev.durabledeploy.spi.lock.SiteLock held =
          store.siteLocks().acquire(SITE, java.time.Duration.ofSeconds(5))) {
        assertThat(
                catchThrowable(
                    () -> other.siteLocks().acquire(SITE, java.time.Duration.ofMillis(300))))
            .isInstanceOf(dev.durabledeploy.spi.exception.SiteBusyException.class);
        assertThat(held.isHeld()).isTrue();
      }
    }
  }

  /** Hands out the thread's transaction connection (close() a no-op) when there is one. */
  private static final class TransactionAware implements DataSource {
    private final DataSource pool;
    private final ThreadLocal<Connection> bound;

    TransactionAware(DataSource pool, ThreadLocal<Connection> bound) {
      this.pool = pool;
      this.bound = bound;
    }

    @Override
    public Connection getConnection() throws SQLException {
      Connection tx = bound.get();
      if (tx == null) {
        return pool.getConnection();
      }
      return (Connection)
          Proxy.newProxyInstance(
              Connection.class.getClassLoader(),
              new Class<?>[] {Connection.class},
              (proxy, method, args) -> {
                if (method.getName().equals("close")) {
                  return null;
                }
                if (method.getName().equals("isClosed")) {
                  return false;
                }
                try {
                  return method.invoke(tx, args);
                } catch (InvocationTargetException e) {
                  throw e.getCause();
                }
              });
    }

    @Override
    public Connection getConnection(String username, String password) throws SQLException {
      return getConnection();
    }

    @Override
    public PrintWriter getLogWriter() throws SQLException {
      return pool.getLogWriter();
    }

    @Override
    public void setLogWriter(PrintWriter out) throws SQLException {
      pool.setLogWriter(out);
    }

    @Override
    public void setLoginTimeout(int seconds) throws SQLException {
      pool.setLoginTimeout(seconds);
    }

    @Override
    public int getLoginTimeout() throws SQLException {
      return pool.getLoginTimeout();
    }

    @Override
    public Logger getParentLogger() throws SQLFeatureNotSupportedException {
      return pool.getParentLogger();
    }

    @Override
    public <T> T unwrap(Class<T> iface) throws SQLException {
      return pool.unwrap(iface);
    }

    @Override
    public boolean isWrapperFor(Class<?> iface) throws SQLException {
      return pool.isWrapperFor(iface);
    }
  }
}
