package dev.durabledeploy.examples.coordination;

import static org.assertj.core.api.Assertions.assertThat;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.durabledeploy.core.DurableDeploy;
import dev.durabledeploy.core.deploy.DeployService;
import dev.durabledeploy.core.deploy.Manifest;
import dev.durabledeploy.engine.executor.ExecutorEngine;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.UploadPath;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.store.postgres.PostgresStore;
import dev.durabledeploy.testkit.fixtures.PostgresExtension;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * A host that brings its own HikariCP pool of 4 connections, as most do: whole deploy sagas on many
 * sites at once must all complete on it, and leave the pool fully usable by the host.
 */
@DisplayName("the deploy plane on the host's own pool of 4 connections")
class HostPoolTest {

  @RegisterExtension static final PostgresExtension PG = new PostgresExtension();
  private static final AtomicInteger SCHEMAS = new AtomicInteger();

  @TempDir Path dir;

  private static HikariDataSource hostPool() {
    HikariConfig config = new HikariConfig();
    config.setPoolName("host");
    config.setJdbcUrl(PG.jdbcUrl());
    config.setUsername(PG.username());
    config.setPassword(PG.password());
    config.setMaximumPoolSize(4);
    config.setConnectionTimeout(5_000);
    return new HikariDataSource(config);
  }

  @Test
  @DisplayName(
      "6 threads, each 5 x (init, upload, finalize) on its own site: every deploy succeeds")
  void sixSitesInParallel() throws Exception {
    assertAllSagasComplete(6, 6, 5);
  }

  @Test
  @DisplayName("16 concurrent sagas over 8 sites all complete; the pool is fully usable afterwards")
  void sixteenSagasOverEightSites() throws Exception {
    assertAllSagasComplete(16, 8, 5);
  }

  private void assertAllSagasComplete(int threads, int sites, int rounds) throws Exception {
    try (HikariDataSource pool = hostPool()) {
      PostgresStore store =
          PostgresStore.builder()
              .dataSource(pool)
              .schema("pool_" + SCHEMAS.incrementAndGet())
              .migrateOnStart(true)
              .build();
      long started = System.nanoTime();
      try (DurableDeploy plane =
          DurableDeploy.builder()
              .store(store)
              .blobRoot(dir.resolve("blobs"))
              .engine(ExecutorEngine.builder().build())
              .build()
              .start()) {
        DeployService deploys = plane.deploys();
        ExecutorService workers = Executors.newFixedThreadPool(threads);
        CountDownLatch go = new CountDownLatch(1);
        try {
          List<Future<Integer>> results = new ArrayList<>();
          for (int t = 0; t < threads; t++) {
            SiteId site = SiteId.of("pool-site-" + (t % sites));
            results.add(
                workers.submit(
                    () -> {
                      go.await();
                      int finalized = 0;
                      for (int r = 0; r < rounds; r++) {
                        Deploy d = deploys.init(site, null);
                        byte[] html = ("<h1>" + d.id() + "</h1>").getBytes(StandardCharsets.UTF_8);
                        deploys.upload(
                            site,
                            d.id(),
                            UploadPath.INDEX_HTML,
                            new ByteArrayInputStream(html),
                            html.length);
                        deploys.finalizeDeploy(
                            site, d.id(), AliasName.PRODUCTION, Manifest.of("index.html"));
                        finalized++;
                      }
                      return finalized;
                    }));
          }
          go.countDown();
          int total = 0;
          for (Future<Integer> f : results) {
            total += f.get(5, TimeUnit.MINUTES);
          }
          assertThat(total).isEqualTo(threads * rounds);
        } finally {
          workers.shutdownNow();
        }
        long activeRows = 0;
        for (int s = 0; s < sites; s++) {
          activeRows +=
              deploys.deploys(SiteId.of("pool-site-" + s)).stream()
                  .filter(Deploy::isActive)
                  .count();
        }
        assertThat(activeRows).isEqualTo(threads * rounds);
      } finally {
        store.close();
      }
      System.out.printf(
          "HostPoolTest: %d sagas x %d rounds over %d sites on a host pool of 4 took %d ms%n",
          threads, rounds, sites, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
      assertPoolFreeAndClean(pool);
    }
  }

  /** Every connection of the host's pool, taken at once, with no session state of the store's. */
  private static void assertPoolFreeAndClean(HikariDataSource pool) throws SQLException {
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

  private static String one(Statement s, String sql) throws SQLException {
    try (ResultSet rs = s.executeQuery(sql)) {
      rs.next();
      return rs.getString(1);
    }
  }
}
