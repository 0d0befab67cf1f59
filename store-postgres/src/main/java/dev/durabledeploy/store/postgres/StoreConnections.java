package dev.durabledeploy.store.postgres;

import dev.durabledeploy.spi.Inputs;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Map;
import javax.sql.DataSource;
import org.jdbi.v3.core.ConnectionFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Where every connection the store uses comes from, with the settings its SQL is written for:
 * autocommit on (each statement outside a transaction commits by itself, and {@code
 * jdbi.inTransaction} opens and commits its own) and isolation READ COMMITTED (a contended {@code
 * INSERT .. ON CONFLICT DO UPDATE} or {@code UPDATE} waits for the other writer and re-reads the
 * row instead of failing with a serialization error, and {@code FOR UPDATE SKIP LOCKED} claims skip
 * what others hold).
 *
 * <p>A host's pool may hand out connections with other defaults: autocommit off (common with JPA;
 * every write of the store would then be rolled back when the connection goes back) or a stricter
 * isolation (REPEATABLE READ, SERIALIZABLE). So a connection borrowed from the host's {@code
 * DataSource} is switched to the store's settings for the store's use and switched back to exactly
 * what it had before it goes back: the host never gets a connection whose settings the store
 * changed. The store's own pool (from a URL) is configured with these settings, so its connections
 * are used as they come.
 */
final class StoreConnections implements ConnectionFactory {

  private static final Logger LOG = LoggerFactory.getLogger(StoreConnections.class);

  /** The isolation the store's SQL is written for. */
  static final int ISOLATION = Connection.TRANSACTION_READ_COMMITTED;

  private final DataSource dataSource;
  private final boolean hostOwned;
  private final Map<Connection, Settings> borrowed =
      Collections.synchronizedMap(new IdentityHashMap<>());

  /** The host's settings of one borrowed connection, to put back. */
  private record Settings(boolean autoCommit, int isolation) {}

  /**
   * @param hostOwned whether the connections are the host's (switched and restored) or come from
   *     the store's own pool, configured with the store's settings (used as they are)
   */
  StoreConnections(DataSource dataSource, boolean hostOwned) {
    this.dataSource = dataSource;
    this.hostOwned = hostOwned;
  }

  DataSource dataSource() {
    return dataSource;
  }

  /** A connection with the store's settings; give it back with {@link #closeConnection}. */
  @Override
  public Connection openConnection() throws SQLException {
    Connection connection = dataSource.getConnection();
    if (!hostOwned) {
      return connection;
    }
    try {
      Settings host =
          new Settings(connection.getAutoCommit(), connection.getTransactionIsolation());
      borrowed.put(connection, host);
      if (!host.autoCommit() && inTransaction(connection)) {
        // A transaction-aware DataSource (Spring's TransactionAwareDataSourceProxy and the like)
        // hands out the host's open transaction: switching it to autocommit would commit the
        // host's pending writes half-way, and the store's writes must commit on their own.
        throw new IllegalStateException(
            "the host's DataSource handed the store a connection inside an open transaction (a"
                + " transaction-aware DataSource?); the store commits its own writes and must not"
                + " commit the host's: give PostgresStore.builder().dataSource(..) the plain pool");
      }
      // Autocommit first: the isolation cannot change inside a transaction.
      if (!host.autoCommit()) {
        connection.setAutoCommit(true);
      }
      if (host.isolation() != ISOLATION) {
        connection.setTransactionIsolation(ISOLATION);
      }
      return connection;
    } catch (SQLException | RuntimeException e) {
      borrowed.remove(connection);
      try {
        connection.close();
      } catch (SQLException closing) {
        e.addSuppressed(closing);
      }
      throw e;
    }
  }

  /** Whether the session has a transaction open (or failed), as the driver tracks it. */
  private static boolean inTransaction(Connection connection) throws SQLException {
    if (!connection.isWrapperFor(org.postgresql.core.BaseConnection.class)) {
      return false; // not the PostgreSQL driver's (a proxy that hides it): cannot tell
    }
    return connection.unwrap(org.postgresql.core.BaseConnection.class).getTransactionState()
        != org.postgresql.core.TransactionState.IDLE;
  }

  /** Puts the host's settings back on the connection, then gives it back (closes it). */
  @Override
  public void closeConnection(Connection connection) throws SQLException {
    Settings host = borrowed.remove(connection);
    try {
      if (host != null && !connection.isClosed()) {
        restore(connection, host);
      }
    } finally {
      connection.close();
    }
  }

  private static void restore(Connection connection, Settings host) {
    try {
      // Isolation first, while autocommit is still on: no transaction is open.
      if (host.isolation() != ISOLATION) {
        connection.setTransactionIsolation(host.isolation());
      }
      if (!host.autoCommit()) {
        connection.setAutoCommit(false);
      }
    } catch (SQLException e) {
      // A broken connection (the usual reason) is discarded by the pool; a pool that keeps it
      // resets its own defaults on return (HikariCP does), so the host's settings come back.
      LOG.warn(
          "restoring the host's autocommit/isolation on a connection failed ({}): {}",
          e.getSQLState() == null ? "no SQLState" : "SQLState " + e.getSQLState(),
          Inputs.redactCredentials(Sql.clean(e.getMessage())));
    }
  }
}
