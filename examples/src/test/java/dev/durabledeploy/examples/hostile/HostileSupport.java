package dev.durabledeploy.examples.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.durabledeploy.testkit.fixtures.PostgresExtension;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.postgresql.core.BaseConnection;
import org.postgresql.core.TransactionState;

/** Shared wiring of the hostile tests: host pools like a host's, and a session-state snapshot. */
final class HostileSupport {

  private static final AtomicInteger SCHEMAS = new AtomicInteger();

  private HostileSupport() {}

  static String newSchema(String prefix) {
    return prefix + "_" + ProcessHandle.current().pid() + "_" + SCHEMAS.incrementAndGet();
  }

  /** A host's HikariCP pool of {@code size}; {@code tweak} sets what a host might set. */
  static HikariDataSource hostPool(PostgresExtension pg, int size, Consumer<HikariConfig> tweak) {
    HikariConfig config = new HikariConfig();
    config.setPoolName("hostile-host-" + SCHEMAS.incrementAndGet());
    config.setJdbcUrl(pg.jdbcUrl());
    config.setUsername(pg.username());
    config.setPassword(pg.password());
    config.setMaximumPoolSize(size);
    config.setMinimumIdle(size);
    config.setInitializationFailTimeout(-1);
    tweak.accept(config);
    return new HikariDataSource(config);
  }

  /** Everything a store could leave on a session, as text, so one assertion shows all of it. */
  static Map<String, String> sessionState(Connection c) throws SQLException {
    Map<String, String> state = new LinkedHashMap<>();
    state.put("autocommit", Boolean.toString(c.getAutoCommit()));
    TransactionState tx = c.unwrap(BaseConnection.class).getTransactionState();
    state.put("transaction", tx.name());
    try (Statement s = c.createStatement()) {
      state.put("search_path", one(s, "SHOW search_path"));
      state.put("lock_timeout", one(s, "SHOW lock_timeout"));
      state.put("statement_timeout", one(s, "SHOW statement_timeout"));
      state.put(
          "idle_in_transaction_session_timeout",
          one(s, "SHOW idle_in_transaction_session_timeout"));
      state.put("role", one(s, "SELECT current_user"));
      state.put(
          "advisory_locks",
          one(
              s,
              "SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid()"
                  + " AND locktype = 'advisory'"));
      state.put("listening", one(s, "SELECT count(*) FROM pg_listening_channels()"));
      state.put(
          "temp_tables",
          one(
              s,
              "SELECT count(*) FROM pg_class WHERE relpersistence = 't'"
                  + " AND pg_catalog.pg_table_is_visible(oid)"));
    }
    return state;
  }

  /** The state of a connection nobody used: what every returned connection must look like. */
  static Map<String, String> pristine(PostgresExtension pg) throws SQLException {
    try (Connection c =
        java.sql.DriverManager.getConnection(pg.jdbcUrl(), pg.username(), pg.password())) {
      return sessionState(c);
    }
  }

  /** Takes every connection of the pool at once and snapshots each. */
  static List<Map<String, String>> allSessions(HikariDataSource pool) throws SQLException {
    List<Connection> taken = new ArrayList<>();
    List<Map<String, String>> states = new ArrayList<>();
    try {
      for (int i = 0; i < pool.getMaximumPoolSize(); i++) {
        taken.add(pool.getConnection());
      }
      for (Connection c : taken) {
        states.add(sessionState(c));
      }
    } finally {
      for (Connection c : taken) {
        c.close();
      }
    }
    return states;
  }

  static void assertAllPristine(PostgresExtension pg, HikariDataSource pool) throws SQLException {
    Map<String, String> clean = pristine(pg);
    for (Map<String, String> state : allSessions(pool)) {
      assertThat(state).as("a connection the store gave back to the host's pool").isEqualTo(clean);
    }
  }

  static String one(Statement s, String sql) throws SQLException {
    try (ResultSet rs = s.executeQuery(sql)) {
      rs.next();
      return rs.getString(1);
    }
  }
}
