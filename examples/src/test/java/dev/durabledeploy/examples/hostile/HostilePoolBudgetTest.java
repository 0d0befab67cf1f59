package dev.durabledeploy.examples.hostile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.zaxxer.hikari.HikariDataSource;
import dev.durabledeploy.core.DeployOptions;
import dev.durabledeploy.core.DurableDeploy;
import dev.durabledeploy.core.deploy.BlobLayout;
import dev.durabledeploy.core.deploy.DeployService;
import dev.durabledeploy.core.deploy.Manifest;
import dev.durabledeploy.engine.executor.ExecutorEngine;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.UploadPath;
import dev.durabledeploy.spi.blob.BlobContent;
import dev.durabledeploy.spi.metadata.Alias;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.store.postgres.PostgresStore;
import dev.durabledeploy.testkit.fixtures.PostgresExtension;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Whole planes (relay + LISTEN + GC + projection + sweeps running) on small host pools, with the
 * host using its pool at the same time, as README "Your own pool" budgets it.
 */
@DisplayName("hostile: the plane within the documented connection budget")
class HostilePoolBudgetTest {

  @RegisterExtension static final PostgresExtension PG = new PostgresExtension();

  @TempDir Path dir;

  @Test
  @DisplayName("pool of 2 (the documented minimum), Hikari defaults: 16 sagas over 8 sites + relay")
  void minimumPool() throws Exception {
    try (HikariDataSource pool = HostileSupport.hostPool(PG, 2, c -> {})) {
      runPlane(pool, 16, 8, 3, Duration.ZERO);
    }
  }

  @Test
  @DisplayName("pool of 3, host keeps 1 connection busy all along: 16 sagas over 8 sites + relay")
  void poolOfThreeWithHostUse() throws Exception {
    try (HikariDataSource pool = HostileSupport.hostPool(PG, 3, c -> {})) {
      AtomicBoolean stop = new AtomicBoolean();
      Thread host = hostWorker(pool, stop, 1);
      try {
        runPlane(pool, 16, 8, 3, Duration.ZERO);
      } finally {
        stop.set(true);
        host.join(30_000);
      }
    }
  }

  @Test
  @DisplayName("pool of 4, host keeps 2 connections busy all along: 16 sagas over 8 sites + relay")
  void poolOfFourWithHostUse() throws Exception {
    try (HikariDataSource pool = HostileSupport.hostPool(PG, 4, c -> {})) {
      AtomicBoolean stop = new AtomicBoolean();
      Thread a = hostWorker(pool, stop, 1);
      Thread b = hostWorker(pool, stop, 2);
      try {
        runPlane(pool, 16, 8, 3, Duration.ZERO);
      } finally {
        stop.set(true);
        a.join(30_000);
        b.join(30_000);
      }
    }
  }

  @org.junit.jupiter.params.ParameterizedTest(name = "{0}")
  @org.junit.jupiter.params.provider.ValueSource(
      strings = {"TRANSACTION_REPEATABLE_READ", "TRANSACTION_SERIALIZABLE"})
  @DisplayName(
      "a host pool whose default isolation is stricter than READ COMMITTED: 16 sagas over 2 sites")
  void strictIsolationPool(String isolation) throws Exception {
    try (HikariDataSource pool =
        HostileSupport.hostPool(PG, 4, c -> c.setTransactionIsolation(isolation))) {
      runPlane(pool, 16, 2, 3, Duration.ZERO);
      HostilePoolHygieneTest.assertHostSettings(
          pool,
          true,
          isolation.equals("TRANSACTION_REPEATABLE_READ")
              ? Connection.TRANSACTION_REPEATABLE_READ
              : Connection.TRANSACTION_SERIALIZABLE);
    }
  }

  /** A host request handler: a transaction of its own, 200 ms long, over and over. */
  private static Thread hostWorker(HikariDataSource pool, AtomicBoolean stop, int n) {
    Thread t =
        new Thread(
            () -> {
              while (!stop.get()) {
                try (Connection c = pool.getConnection();
                    Statement s = c.createStatement()) {
                  c.setAutoCommit(false);
                  s.execute("SELECT pg_sleep(0.2)");
                  c.commit();
                  c.setAutoCommit(true);
                } catch (Exception e) {
                  // the host's own problem; keeps trying
                }
              }
            },
            "host-worker-" + n);
    t.setDaemon(true);
    t.start();
    return t;
  }

  @Test
  @DisplayName("jdbcUrl with poolSize(1): 16 sagas over 8 sites + relay on the store's own pool")
  void ownPoolOfOne() throws Exception {
    String schema = HostileSupport.newSchema("budget");
    PostgresStore store =
        PostgresStore.builder()
            .jdbcUrl(PG.jdbcUrl())
            .username(PG.username())
            .password(PG.password())
            .schema(schema)
            .poolSize(1)
            .migrateOnStart(true)
            .build();
    runSagas(store, schema, 16, 8, 3);
  }

  /** Runs the sagas on a started plane and checks everything completed and was projected. */
  private void runPlane(HikariDataSource pool, int threads, int sites, int rounds, Duration x)
      throws Exception {
    String schema = HostileSupport.newSchema("budget");
    PostgresStore store =
        PostgresStore.builder().dataSource(pool).schema(schema).migrateOnStart(true).build();
    runSagas(store, schema, threads, sites, rounds);
    await("the host gets its whole pool back, clean")
        .atMost(Duration.ofSeconds(30))
        .ignoreExceptions()
        .untilAsserted(() -> HostileSupport.assertAllPristine(PG, pool));
  }

  private void runSagas(PostgresStore store, String schema, int threads, int sites, int rounds)
      throws Exception {
    Path blobs = dir.resolve("blobs-" + schema);
    Map<String, Throwable> failures = new ConcurrentHashMap<>();
    long started = System.nanoTime();
    try (DurableDeploy plane =
        DurableDeploy.builder()
            .store(store)
            .blobRoot(blobs)
            .options(
                DeployOptions.builder()
                    .gcDebounce(Duration.ofMillis(200), Duration.ofSeconds(1))
                    .build())
            .engine(ExecutorEngine.builder().build())
            .build()
            .start()) {
      DeployService deploys = plane.deploys();
      ExecutorService workers = Executors.newFixedThreadPool(threads);
      CountDownLatch go = new CountDownLatch(1);
      List<Future<Integer>> results = new ArrayList<>();
      try {
        for (int t = 0; t < threads; t++) {
          SiteId site = SiteId.of("budget-site-" + (t % sites));
          int thread = t;
          results.add(
              workers.submit(
                  () -> {
                    go.await();
                    int ok = 0;
                    for (int r = 0; r < rounds; r++) {
                      try {
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
                        ok++;
                      } catch (RuntimeException e) {
                        failures.put(thread + "/" + r, e);
                      }
                    }
                    return ok;
                  }));
        }
        go.countDown();
        int total = 0;
        for (Future<Integer> f : results) {
          total += f.get(5, TimeUnit.MINUTES);
        }
        assertThat(failures).as("sagas that failed").isEmpty();
        assertThat(total).isEqualTo(threads * rounds);
      } finally {
        workers.shutdownNow();
      }
      // The relay projects every site's final alias into the bucket.
      for (int s = 0; s < sites; s++) {
        SiteId site = SiteId.of("budget-site-" + s);
        Alias alias = store.metadata().findAlias(site, AliasName.PRODUCTION).orElseThrow();
        await("the projection of " + site + " reaches " + alias.target())
            .atMost(Duration.ofSeconds(60))
            .until(() -> projected(plane, site).orElse("").contains(alias.target().value()));
      }
    } finally {
      store.close();
    }
    System.out.printf(
        "HostilePoolBudgetTest: %s, %d threads x %d rounds over %d sites: %d ms%n",
        schema, threads, rounds, sites, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
  }

  static Optional<String> projected(DurableDeploy plane, SiteId site) {
    Optional<BlobContent> c = plane.blobs().get(BlobLayout.alias(site, AliasName.PRODUCTION));
    if (c.isEmpty()) {
      return Optional.empty();
    }
    try (BlobContent content = c.get()) {
      return Optional.of(new String(content.readAllBytes(), StandardCharsets.UTF_8));
    }
  }
}
