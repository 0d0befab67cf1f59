package dev.durabledeploy.examples.hostile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.zaxxer.hikari.HikariDataSource;
import dev.durabledeploy.core.DeployOptions;
import dev.durabledeploy.core.DurableDeploy;
import dev.durabledeploy.core.deploy.DeployService;
import dev.durabledeploy.core.deploy.Manifest;
import dev.durabledeploy.engine.executor.ExecutorEngine;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.UploadPath;
import dev.durabledeploy.spi.exception.DurableDeployException;
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
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** The plane on a host pool through exhaustion, killed connections and server timeouts. */
@DisplayName("hostile: the plane on a host pool through outages of the pool and the server")
class HostilePoolOutageTest {

  @RegisterExtension static final PostgresExtension PG = new PostgresExtension();
  private static final int SITES = 6;

  @TempDir Path dir;

  /** What the workers saw, by exception class. */
  private final Map<String, AtomicInteger> failures = new ConcurrentHashMap<>();

  private final List<Throwable> untyped = java.util.Collections.synchronizedList(new ArrayList<>());

  private DurableDeploy plane(PostgresStore store, String name) {
    return DurableDeploy.builder()
        .store(store)
        .blobRoot(dir.resolve(name))
        .options(
            DeployOptions.builder()
                .gcDebounce(Duration.ofMillis(200), Duration.ofSeconds(1))
                .build())
        .engine(ExecutorEngine.builder().build())
        .build()
        .start();
  }

  private static SiteId site(int s) {
    return SiteId.of("outage-site-" + s);
  }

  private static void saga(DeployService deploys, SiteId site) {
    Deploy d = deploys.init(site, null);
    byte[] html = ("<h1>" + d.id() + "</h1>").getBytes(StandardCharsets.UTF_8);
    deploys.upload(
        site, d.id(), UploadPath.INDEX_HTML, new ByteArrayInputStream(html), html.length);
    deploys.finalizeDeploy(site, d.id(), AliasName.PRODUCTION, Manifest.of("index.html"));
  }

  /** Workers running sagas until {@code stop}; returns their futures. */
  private List<Future<Integer>> workers(
      ExecutorService pool, DeployService deploys, AtomicBoolean stop) {
    List<Future<Integer>> all = new ArrayList<>();
    for (int t = 0; t < SITES * 2; t++) {
      SiteId site = site(t % SITES);
      all.add(
          pool.submit(
              () -> {
                int ok = 0;
                while (!stop.get()) {
                  try {
                    saga(deploys, site);
                    ok++;
                  } catch (DurableDeployException e) {
                    failures
                        .computeIfAbsent(e.getClass().getSimpleName(), k -> new AtomicInteger())
                        .incrementAndGet();
                  } catch (RuntimeException e) {
                    untyped.add(e);
                  }
                }
                return ok;
              }));
    }
    return all;
  }

  /** After the trouble: one clean saga per site, projected, and the host's pool whole and clean. */
  private void assertRecovered(
      DurableDeploy plane,
      PostgresStore store,
      ExecutorService ex,
      List<Future<Integer>> running,
      AtomicBoolean stop)
      throws Exception {
    stop.set(true);
    int ok = 0;
    for (Future<Integer> f : running) {
      ok += f.get(90, TimeUnit.SECONDS);
    }
    ex.shutdownNow();
    System.out.printf(
        "HostilePoolOutageTest: %d sagas ok, failures %s, untyped %s%n", ok, failures, untyped);
    assertThat(untyped).as("failures that are not the library's typed exceptions").isEmpty();
    for (int s = 0; s < SITES; s++) {
      SiteId site = site(s);
      await("a saga on " + site + " completes after the trouble")
          .atMost(Duration.ofSeconds(60))
          .ignoreExceptionsInstanceOf(dev.durabledeploy.spi.exception.TransientStoreException.class)
          .untilAsserted(() -> saga(plane.deploys(), site));
    }
    for (int s = 0; s < SITES; s++) {
      SiteId site = site(s);
      Alias alias = store.metadata().findAlias(site, AliasName.PRODUCTION).orElseThrow();
      await("the projection of " + site + " catches up with " + alias.target())
          .atMost(Duration.ofSeconds(90))
          .until(
              () ->
                  HostilePoolBudgetTest.projected(plane, site)
                      .orElse("")
                      .contains(alias.target().value()));
    }
  }

  @Test
  @DisplayName(
      "the host takes every free connection for longer than the lock TTL, then gives them back:"
          + " the plane recovers")
  void poolExhaustedThenRecovered() throws Exception {
    try (HikariDataSource pool =
        HostileSupport.hostPool(PG, 4, c -> c.setConnectionTimeout(1000))) {
      PostgresStore store =
          PostgresStore.builder()
              .dataSource(pool)
              .schema(HostileSupport.newSchema("exhaust"))
              .lockTtl(Duration.ofSeconds(3))
              .migrateOnStart(true)
              .build();
      try (DurableDeploy plane = plane(store, "exhaust")) {
        ExecutorService ex = Executors.newFixedThreadPool(SITES * 2);
        AtomicBoolean stop = new AtomicBoolean();
        List<Future<Integer>> running = workers(ex, plane.deploys(), stop);
        await()
            .atMost(Duration.ofSeconds(30))
            .until(() -> store.metadata().listDeploys(site(0)).size() > 2);
        // The host's own burst: it takes every connection it can get and keeps them 8 s.
        List<Connection> hostHeld = new ArrayList<>();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (hostHeld.size() < 3 && System.nanoTime() < deadline) {
          try {
            hostHeld.add(pool.getConnection());
          } catch (java.sql.SQLException busy) {
            // try again
          }
        }
        assertThat(hostHeld).hasSize(3);
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(8);
        await().atMost(Duration.ofSeconds(20)).until(() -> System.nanoTime() > until);
        for (Connection c : hostHeld) {
          c.close();
        }
        long after = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        await().atMost(Duration.ofSeconds(20)).until(() -> System.nanoTime() > after);
        assertRecovered(plane, store, ex, running, stop);
      } finally {
        store.close();
      }
      await("the host's pool is whole and clean")
          .atMost(Duration.ofSeconds(30))
          .ignoreExceptions()
          .untilAsserted(() -> HostileSupport.assertAllPristine(PG, pool));
    }
  }

  @Test
  @DisplayName("pg_terminate_backend on half the store's connections every 300 ms for 15 s")
  void connectionsKilledRepeatedly() throws Exception {
    try (HikariDataSource pool =
        HostileSupport.hostPool(PG, 4, c -> c.setConnectionTimeout(2000))) {
      PostgresStore store =
          PostgresStore.builder()
              .dataSource(pool)
              .schema(HostileSupport.newSchema("kill"))
              .lockTtl(Duration.ofSeconds(3))
              .migrateOnStart(true)
              .build();
      try (DurableDeploy plane = plane(store, "kill")) {
        ExecutorService ex = Executors.newFixedThreadPool(SITES * 2);
        AtomicBoolean stop = new AtomicBoolean();
        List<Future<Integer>> running = workers(ex, plane.deploys(), stop);
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        int killed = 0;
        while (System.nanoTime() < until) {
          try (Connection c = PG.dataSource().getConnection();
              Statement s = c.createStatement()) {
            killed +=
                Integer.parseInt(
                    HostileSupport.one(
                        s,
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                            + " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                            + " AND backend_type = 'client backend' AND random() < 0.5"));
          }
          long next = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(300);
          await().atMost(Duration.ofSeconds(5)).until(() -> System.nanoTime() > next);
        }
        System.out.println("HostilePoolOutageTest: killed " + killed + " backends");
        assertThat(killed).isGreaterThan(10);
        assertRecovered(plane, store, ex, running, stop);
      } finally {
        store.close();
      }
      await("the host's pool is whole and clean")
          .atMost(Duration.ofSeconds(30))
          .ignoreExceptions()
          .untilAsserted(() -> HostileSupport.assertAllPristine(PG, pool));
    }
  }

  @Test
  @DisplayName("idle_session_timeout = 1s on the database: the plane keeps working on a host pool")
  void idleSessionTimeout() throws Exception {
    String db = PG.database();
    String schema = HostileSupport.newSchema("idle");
    try (HikariDataSource migrator = HostileSupport.hostPool(PG, 2, c -> {})) {
      PostgresStore.builder()
          .dataSource(migrator)
          .schema(schema)
          .migrateOnStart(true)
          .build()
          .close();
    }
    try (Connection c = PG.dataSource().getConnection();
        Statement s = c.createStatement()) {
      s.execute("ALTER DATABASE \"" + db + "\" SET idle_session_timeout = '1s'");
    }
    try (HikariDataSource pool =
        HostileSupport.hostPool(PG, 4, c -> c.setConnectionTimeout(2000))) {
      PostgresStore store =
          PostgresStore.builder()
              .dataSource(pool)
              .schema(schema)
              .lockTtl(Duration.ofSeconds(6))
              .build();
      try (DurableDeploy plane = plane(store, "idle")) {
        // Slow, spaced sagas: every connection idles past the timeout between uses.
        for (int round = 0; round < 4; round++) {
          for (int s = 0; s < 3; s++) {
            saga(plane.deploys(), site(s));
          }
          long next = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(2500);
          await().atMost(Duration.ofSeconds(10)).until(() -> System.nanoTime() > next);
        }
        for (int s = 0; s < 3; s++) {
          SiteId site = site(s);
          Alias alias = store.metadata().findAlias(site, AliasName.PRODUCTION).orElseThrow();
          await("the projection of " + site + " catches up")
              .atMost(Duration.ofSeconds(60))
              .until(
                  () ->
                      HostilePoolBudgetTest.projected(plane, site)
                          .orElse("")
                          .contains(alias.target().value()));
        }
      } finally {
        store.close();
      }
    } finally {
      try (Connection c = PG.dataSource().getConnection();
          Statement s = c.createStatement()) {
        s.execute("ALTER DATABASE \"" + db + "\" RESET idle_session_timeout");
      }
    }
  }
}
