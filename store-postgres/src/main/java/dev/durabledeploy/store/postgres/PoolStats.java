package dev.durabledeploy.store.postgres;

import com.zaxxer.hikari.HikariDataSource;
import com.zaxxer.hikari.HikariPoolMXBean;
import java.sql.SQLException;
import java.util.LinkedHashMap;
import java.util.Map;
import javax.sql.DataSource;

/**
 * The connection pool's gauges for the metadata store's health: HikariCP's (the store's own pool,
 * or a host's Hikari pool); nothing for another pool, which the store cannot read.
 */
final class PoolStats {

  private final HikariDataSource hikari;

  PoolStats(DataSource dataSource) {
    this.hikari = hikari(dataSource);
  }

  private static HikariDataSource hikari(DataSource dataSource) {
    try {
      return dataSource.isWrapperFor(HikariDataSource.class)
          ? dataSource.unwrap(HikariDataSource.class)
          : null;
    } catch (SQLException e) {
      return null;
    }
  }

  /** {@code poolActive}, {@code poolIdle}, {@code poolMax} and {@code poolWaiting}, or nothing. */
  Map<String, Object> read() {
    Map<String, Object> stats = new LinkedHashMap<>();
    HikariPoolMXBean pool = hikari == null ? null : hikari.getHikariPoolMXBean();
    if (pool == null) {
      return stats; // not Hikari, or not started yet
    }
    stats.put("poolActive", pool.getActiveConnections());
    stats.put("poolIdle", pool.getIdleConnections());
    stats.put("poolMax", hikari.getMaximumPoolSize());
    stats.put("poolWaiting", pool.getThreadsAwaitingConnection());
    return stats;
  }
}
