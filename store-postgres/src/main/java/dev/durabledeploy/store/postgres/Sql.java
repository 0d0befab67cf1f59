package dev.durabledeploy.store.postgres;

import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.Inputs;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.exception.DurableDeployException;
import dev.durabledeploy.spi.exception.TransientStoreException;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.spi.metadata.DeployState;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.function.Supplier;
import org.jdbi.v3.core.ConnectionException;
import org.jdbi.v3.core.JdbiException;

/** Small helpers shared by the PostgreSQL classes: time binding, row mapping, error mapping. */
final class Sql {

  private Sql() {}

  /**
   * Instants are bound as UTC offsets so no session time zone can shift them, truncated to the
   * microseconds PostgreSQL keeps (left to the server, the nanoseconds would be rounded, and a
   * value read back would differ from {@code at.truncatedTo(MICROS)}, which the metadata store
   * promises).
   */
  static OffsetDateTime ts(Instant instant) {
    return instant == null
        ? null
        : OffsetDateTime.ofInstant(instant.truncatedTo(ChronoUnit.MICROS), ZoneOffset.UTC);
  }

  static Instant instant(ResultSet rs, String column) throws SQLException {
    OffsetDateTime value = rs.getObject(column, OffsetDateTime.class);
    return value == null ? null : value.toInstant();
  }

  static Deploy deploy(ResultSet rs) throws SQLException {
    return new Deploy(
        SiteId.of(rs.getString("site")),
        DeployId.of(rs.getString("deploy_id")),
        rs.getString("sha"),
        DeployState.valueOf(rs.getString("state")),
        instant(rs, "created_at"),
        instant(rs, "finalized_at"),
        instant(rs, "released_at"),
        instant(rs, "restored_at"));
  }

  /**
   * A stable 64-bit advisory-lock key: the first 8 bytes of SHA-256 over the namespace, schema and
   * name, so hosts agree on it whatever their JVM and no two namespaces collide by construction.
   */
  static long lockKey(String namespace, String schema, String name) {
    try {
      byte[] digest =
          MessageDigest.getInstance("SHA-256")
              .digest(
                  ("durable-deploy:" + namespace + ":" + schema + ":" + name)
                      .getBytes(StandardCharsets.UTF_8));
      return ByteBuffer.wrap(digest, 0, 8).getLong();
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JVM has SHA-256", e);
    }
  }

  /** Runs a database call, turning driver failures into the SPI's exceptions. */
  static <T> T call(String what, Supplier<T> body) {
    try {
      return body.get();
    } catch (JdbiException e) {
      throw translate(what, e);
    }
  }

  static RuntimeException translate(String what, Throwable e) {
    SQLException sql = sqlCause(e);
    String state = sql == null ? null : sql.getSQLState();
    String message =
        what + " failed on PostgreSQL" + (state == null ? "" : " (SQLState " + state + ")");
    String detail = Inputs.redactCredentials(sql != null ? sql.getMessage() : e.getMessage());
    if (e instanceof ConnectionException || isTransient(state)) {
      return new TransientStoreException(
          message + ": " + detail + "; check that the database is reachable", e);
    }
    return new DurableDeployException(message + ": " + detail, e);
  }

  /**
   * Connection loss (08xxx), shutdown (57P0x), serialization failures and deadlocks (40xxx) and
   * "too many connections" (53300) pass; everything else is a bug or a schema problem.
   */
  static boolean isTransient(String state) {
    return state != null
        && (state.startsWith("08")
            || state.startsWith("57P")
            || state.startsWith("40")
            || state.equals("53300")
            || state.equals("55P03"));
  }

  /** The SQLState of the first {@link SQLException} in {@code e}'s causes, or null. */
  static String sqlState(Throwable e) {
    SQLException sql = sqlCause(e);
    return sql == null ? null : sql.getSQLState();
  }

  /**
   * Switches {@code idle_session_timeout} (PostgreSQL 14 and later) off for this session, for a
   * connection the store keeps idle on purpose (the {@code LISTEN} connection between
   * notifications, the migration's while it waits for its lock), which a server that ends idle
   * sessions would otherwise end every few seconds. Returns the value to restore with {@link
   * #restoreIdleSessionTimeout} before the connection goes back, or null when there is nothing to
   * restore (an older server, or already off).
   */
  static String suspendIdleSessionTimeout(Connection connection) throws SQLException {
    if (connection.getMetaData().getDatabaseMajorVersion() < 14) {
      return null;
    }
    try (Statement s = connection.createStatement();
        ResultSet rs = s.executeQuery("SHOW idle_session_timeout")) {
      rs.next();
      String previous = rs.getString(1);
      if (previous.equals("0")) {
        return null;
      }
      s.execute("SET idle_session_timeout = 0");
      return previous;
    }
  }

  /** Puts back what {@link #suspendIdleSessionTimeout} switched off; null does nothing. */
  static void restoreIdleSessionTimeout(Connection connection, String previous)
      throws SQLException {
    if (previous == null) {
      return;
    }
    try (PreparedStatement set =
        connection.prepareStatement("SELECT set_config('idle_session_timeout', ?, false)")) {
      set.setString(1, previous);
      set.execute();
    }
  }

  private static SQLException sqlCause(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof SQLException sql) {
        return sql;
      }
    }
    return null;
  }

  /** PostgreSQL text cannot hold NUL; errors from arbitrary exceptions might. */
  static String clean(String text) {
    return text == null ? null : text.replace('\u0000', ' ');
  }
}
