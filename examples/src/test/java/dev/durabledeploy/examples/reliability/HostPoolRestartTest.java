package dev.durabledeploy.examples.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.durabledeploy.core.blob.FileSystemBlobStore;
import dev.durabledeploy.testkit.fixtures.PostgresExtension;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The database-restart scenario on the configuration most hosts run: the store on the host's own
 * HikariCP pool of 4 connections (one of them kept for {@code LISTEN}), with three workloads at
 * once contending for sites and connections. Besides the {@link Invariants}, the host's pool must
 * come back whole and clean: every connection free, none with a setting, lock or {@code LISTEN} of
 * the store's.
 */
class HostPoolRestartTest {

  static final int SITES = 6;

  @RegisterExtension static final PostgresExtension PG = new PostgresExtension();

  @TempDir Path dir;

  @Test
  void databaseRestartOnTheHostsPoolOfFourLosesNothing() throws Exception {
    Path blobRoot = dir.resolve("blobs");
    HikariConfig config = new HikariConfig();
    config.setPoolName("host");
    config.setJdbcUrl(PG.jdbcUrl());
    config.setUsername(PG.username());
    config.setPassword(PG.password());
    config.setMaximumPoolSize(4);
    config.setConnectionTimeout(5_000);
    try (HikariDataSource hostPool = new HikariDataSource(config)) {
      DatabaseRestartTest.run(
          PG,
          "HostPoolRestartTest",
          blobRoot,
          SITES,
          3,
          20,
          () ->
              Plane.onHostPool(
                  hostPool,
                  PG.jdbcUrl(),
                  PG.username(),
                  PG.password(),
                  new FileSystemBlobStore(blobRoot)));
      Awaitility.await("the host's pool is whole and clean")
          .atMost(Duration.ofSeconds(30))
          .ignoreExceptions()
          .untilAsserted(() -> assertWholeAndClean(hostPool));
    }
  }

  private static void assertWholeAndClean(HikariDataSource pool) throws Exception {
    List<Connection> all = new ArrayList<>();
    try {
      for (int i = 0; i < pool.getMaximumPoolSize(); i++) {
        all.add(pool.getConnection());
      }
      for (Connection c : all) {
        try (Statement s = c.createStatement()) {
          assertThat(one(s, "SHOW lock_timeout")).isEqualTo("0");
          assertThat(
                  one(
                      s,
                      "SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid()"
                          + " AND locktype = 'advisory'"))
              .isEqualTo("0");
          assertThat(one(s, "SELECT count(*) FROM pg_listening_channels()")).isEqualTo("0");
        }
      }
    } finally {
      for (Connection c : all) {
        c.close();
      }
    }
  }

  private static String one(Statement s, String sql) throws Exception {
    try (ResultSet rs = s.executeQuery(sql)) {
      rs.next();
      return rs.getString(1);
    }
  }
}
