package dev.durabledeploy.store.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.durabledeploy.testkit.fixtures.PostgresExtension;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

/** A host's own HikariCP pool, and the checks that the store gave every connection back clean. */
final class HostPools {

  private HostPools() {}

  /** A pool like a host's: {@code size} connections, a 2 s wait for one (so a leak fails fast). */
  static HikariDataSource open(PostgresExtension pg, int size) {
    HikariConfig config = new HikariConfig();
    config.setPoolName("host-pool");
    config.setJdbcUrl(pg.jdbcUrl());
    config.setUsername(pg.username());
    config.setPassword(pg.password());
    config.setMaximumPoolSize(size);
    config.setMinimumIdle(size);
    config.setConnectionTimeout(2_000);
    config.setInitializationFailTimeout(-1);
    return new HikariDataSource(config);
  }

  /**
   * Takes every connection of the pool at once (so none is kept by the store) and checks each for
   * session state a store could leave behind: a {@code lock_timeout}, an advisory lock, a {@code
   * LISTEN}.
   */
  static void assertAllFreeAndClean(HikariDataSource pool) throws SQLException {
    assertFreeAndClean(pool, pool.getMaximumPoolSize());
  }

  /** {@link #assertAllFreeAndClean} for {@code count} connections of the pool. */
  static void assertFreeAndClean(HikariDataSource pool, int count) throws SQLException {
    List<Connection> taken = new ArrayList<>();
    try {
      for (int i = 0; i < count; i++) {
        taken.add(pool.getConnection());
      }
      for (Connection c : taken) {
        assertClean(c);
      }
    } finally {
      for (Connection c : taken) {
        c.close();
      }
    }
  }

  static void assertClean(Connection c) throws SQLException {
    try (Statement s = c.createStatement()) {
      assertThat(one(s, "SHOW lock_timeout"))
          .as("lock_timeout left on a host connection")
          .isEqualTo("0");
      assertThat(
              one(
                  s,
                  "SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid()"
                      + " AND locktype = 'advisory'"))
          .as("advisory locks left on a host connection")
          .isEqualTo("0");
      assertThat(one(s, "SELECT count(*) FROM pg_listening_channels()"))
          .as("LISTEN left on a host connection")
          .isEqualTo("0");
      assertThat(c.getAutoCommit()).as("autocommit of a host connection").isTrue();
    }
  }

  private static String one(Statement s, String sql) throws SQLException {
    try (ResultSet rs = s.executeQuery(sql)) {
      rs.next();
      return rs.getString(1);
    }
  }
}
