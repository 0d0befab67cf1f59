package dev.durabledeploy.examples.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import dev.durabledeploy.core.blob.FileSystemBlobStore;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.testkit.fixtures.PostgresExtension;
import dev.durabledeploy.testkit.fixtures.PostgresServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue #14, scenario 2: the PostgreSQL server itself stops mid-load and starts again. Operations
 * during the outage fail with the library's transient exception (nothing else escapes), the relay
 * and the engine resume on their own, and the final state passes {@link Invariants}.
 */
class DatabaseRestartTest {

  static final int SITES = 8;

  @RegisterExtension static final PostgresExtension PG = new PostgresExtension();

  @TempDir Path dir;

  @Test
  void databaseRestartMidLoadLosesNothing() throws Exception {
    Path blobRoot = dir.resolve("blobs");
    run(
        PG,
        "DatabaseRestartTest",
        blobRoot,
        SITES,
        1,
        40,
        () ->
            new Plane(
                PG.jdbcUrl(), PG.username(), PG.password(), new FileSystemBlobStore(blobRoot)));
  }

  /**
   * The scenario, shared with {@link HostPoolRestartTest}: {@code loadThreads} workloads (seeds
   * from one seed) run on {@code sites}; after {@code opsPerPhase} operations the server stops
   * until a few are refused, then restarts; after {@code opsPerPhase} more the state must pass
   * {@link Invariants}.
   */
  static void run(
      PostgresExtension pg,
      String name,
      Path blobRoot,
      int sites,
      int loadThreads,
      int opsPerPhase,
      java.util.concurrent.Callable<Plane> planes)
      throws Exception {
    PostgresServer server = PostgresExtension.server();
    long seed = Long.getLong("reliability.seed", System.nanoTime());
    System.out.println(name + " seed " + seed);
    Deliveries.createTable(pg.dataSource());
    AtomicBoolean running = new AtomicBoolean(true);
    AtomicReference<Throwable> escaped = new AtomicReference<>();
    List<Workload> workloads = new java.util.ArrayList<>();
    try (Plane plane = planes.call()) {
      plane.deploy.start();
      List<Thread> load = new java.util.ArrayList<>();
      for (int t = 0; t < loadThreads; t++) {
        Workload workload = new Workload(plane, seed + t, sites, "load-" + t);
        workloads.add(workload);
        Thread thread =
            new Thread(
                () -> {
                  try {
                    while (running.get()) {
                      workload.step();
                    }
                  } catch (Throwable e) {
                    escaped.set(e);
                  }
                },
                "harness-load-" + t);
        thread.start();
        load.add(thread);
      }
      awaitDone(workloads, opsPerPhase, escaped);

      server.stop();
      long refusedBefore = refused(workloads);
      try {
        Awaitility.await("operations fail while the database is down")
            .atMost(Duration.ofSeconds(60))
            .until(() -> escaped.get() != null || refused(workloads) >= refusedBefore + 3);
      } finally {
        server.restart();
      }
      assertThat(escaped.get()).as("exception escaping the library, seed " + seed).isNull();
      long doneAtRestart = done(workloads);
      awaitDone(workloads, doneAtRestart + opsPerPhase, escaped);
      running.set(false);
      for (Thread thread : load) {
        thread.join(Duration.ofSeconds(60).toMillis());
        assertThat(thread.isAlive()).isFalse();
      }
      assertThat(escaped.get()).as("exception escaping the library, seed " + seed).isNull();
      // The relay of the host that lived through the outage resumes and drains by itself, and no
      // run gave up during the outage.
      Invariants.awaitDrained(plane.deploy);
      assertThat(Invariants.deadLetters(plane.deploy)).as("seed " + seed).isEmpty();
      workloads.forEach(Workload::close);
    }

    List<SiteId> all = Workload.sites(sites);
    Set<String> unsettled = new TreeSet<>();
    List<String> found = new ArrayList<>();
    workloads.forEach(
        w -> {
          unsettled.addAll(w.unsettled);
          found.addAll(w.violations);
        });
    Invariants.recoverAndCheck(
        pg,
        blobRoot,
        all,
        unsettled,
        found,
        name
            + " seed "
            + seed
            + ": "
            + done(workloads)
            + " operations done, "
            + refused(workloads)
            + " refused (outage included); "
            + unsettled.size()
            + " uploads unsettled; workload counters "
            + workloads.stream().map(Workload::stats).toList());
  }

  private static long done(List<Workload> workloads) {
    return workloads.stream().mapToLong(w -> w.done.get()).sum();
  }

  private static long refused(List<Workload> workloads) {
    return workloads.stream().mapToLong(w -> w.refused.get()).sum();
  }

  private static void awaitDone(
      List<Workload> workloads, long done, AtomicReference<Throwable> escaped) {
    Awaitility.await("the workload completes " + done + " operations")
        .atMost(Duration.ofSeconds(120))
        .until(() -> escaped.get() != null || done(workloads) >= done);
    assertThat(escaped.get()).as("exception escaping the library").isNull();
  }
}
