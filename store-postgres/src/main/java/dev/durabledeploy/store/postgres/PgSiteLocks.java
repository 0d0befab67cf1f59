package dev.durabledeploy.store.postgres;

import dev.durabledeploy.spi.SiteBusyException;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.TransientStoreException;
import dev.durabledeploy.spi.lock.SiteLock;
import dev.durabledeploy.spi.lock.SiteLocks;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import javax.sql.DataSource;

/**
 * Site locks as PostgreSQL session advisory locks ({@code pg_advisory_lock}) on a stable hash of
 * the site id, each held on its own connection from a dedicated pool until closed. The wait is
 * bounded by {@code lock_timeout}; a holder whose connection dies loses the lock to the server, so
 * a crashed host never leaves a site locked. Waiters use the lock pool only, so they can never
 * starve lock holders of connections for their commands.
 */
final class PgSiteLocks implements SiteLocks {

  private final DataSource lockPool;
  private final String schema;

  PgSiteLocks(DataSource lockPool, String schema) {
    this.lockPool = lockPool;
    this.schema = schema;
  }

  @Override
  public SiteLock acquire(SiteId site, Duration timeout) {
    long started = System.nanoTime();
    Connection connection;
    try {
      connection = lockPool.getConnection();
    } catch (SQLException e) {
      throw new TransientStoreException(
          "no connection for the site lock of '" + site + "'; check the database and lockPoolSize",
          e);
    }
    long remainingMillis =
        Math.max(1, timeout.toMillis() - (System.nanoTime() - started) / 1_000_000);
    try {
      connection.setAutoCommit(true);
      try (Statement s = connection.createStatement()) {
        s.execute("SET lock_timeout = " + remainingMillis);
      }
      try (PreparedStatement lock = connection.prepareStatement("SELECT pg_advisory_lock(?)")) {
        lock.setLong(1, Sql.lockKey("site", schema, site.value()));
        lock.execute();
      }
      try (Statement s = connection.createStatement()) {
        s.execute("SET lock_timeout = 0");
      }
    } catch (SQLException e) {
      closeQuietly(connection);
      if ("55P03".equals(e.getSQLState())) {
        throw new SiteBusyException(site, timeout);
      }
      throw Sql.translate("taking the site lock of '" + site + "'", e);
    }
    return new PgSiteLock(site, connection, Sql.lockKey("site", schema, site.value()));
  }

  private static void closeQuietly(Connection connection) {
    try {
      connection.close();
    } catch (SQLException ignored) {
      // The connection is broken; the pool discards it, and with it any lock.
    }
  }

  private static final class PgSiteLock implements SiteLock {
    private final SiteId site;
    private final Connection connection;
    private final long key;
    private final AtomicBoolean open = new AtomicBoolean(true);

    PgSiteLock(SiteId site, Connection connection, long key) {
      this.site = site;
      this.connection = connection;
      this.key = key;
    }

    @Override
    public SiteId site() {
      return site;
    }

    @Override
    public boolean isHeld() {
      try {
        return open.get() && connection.isValid(2);
      } catch (SQLException e) {
        return false;
      }
    }

    @Override
    public void close() {
      if (!open.compareAndSet(true, false)) {
        return;
      }
      try (PreparedStatement unlock = connection.prepareStatement("SELECT pg_advisory_unlock(?)")) {
        unlock.setLong(1, key);
        unlock.execute();
      } catch (SQLException e) {
        // The connection died: the server already released the lock with the session.
      } finally {
        closeQuietly(connection);
      }
    }
  }
}
