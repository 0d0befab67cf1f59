package dev.durabledeploy.examples.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import dev.durabledeploy.core.blob.FileSystemBlobStore;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.testkit.fixtures.PostgresExtension;
import dev.durabledeploy.testkit.fixtures.PostgresServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.IntStream;
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
    PostgresServer server = PostgresExtension.server();
    long seed = Long.getLong("reliability.seed", System.nanoTime());
    System.out.println("DatabaseRestartTest seed " + seed);
    Path blobRoot = dir.resolve("blobs");
    Deliveries.createTable(PG.dataSource());
    AtomicBoolean running = new AtomicBoolean(true);
    AtomicReference<Throwable> escaped = new AtomicReference<>();
    Workload workload;
    try (Plane plane =
        new Plane(PG.jdbcUrl(), PG.username(), PG.password(), new FileSystemBlobStore(blobRoot))) {
      plane.deploy.start();
      workload = new Workload(plane.deploy, seed, SITES);
      Thread load =
          new Thread(
              () -> {
                try {
                  while (running.get()) {
                    workload.step();
                  }
                } catch (Throwable t) {
                  escaped.set(t);
                }
              },
              "harness-load");
      load.start();
      awaitDone(workload, 40, escaped);

      server.stop();
      long refusedBefore = workload.refused.get();
      try {
        Awaitility.await("operations fail while the database is down")
            .atMost(Duration.ofSeconds(60))
            .until(() -> escaped.get() != null || workload.refused.get() >= refusedBefore + 3);
      } finally {
        server.restart();
      }
      assertThat(escaped.get()).as("exception escaping the library, seed " + seed).isNull();
      long doneAtRestart = workload.done.get();
      awaitDone(workload, doneAtRestart + 40, escaped);
      running.set(false);
      load.join(Duration.ofSeconds(60).toMillis());
      assertThat(load.isAlive()).isFalse();
      assertThat(escaped.get()).as("exception escaping the library, seed " + seed).isNull();
      // The relay of the host that lived through the outage resumes and drains by itself, and no
      // run gave up during the outage.
      Invariants.awaitDrained(plane.deploy);
      assertThat(Invariants.deadLetters(plane.deploy)).as("seed " + seed).isEmpty();
    }

    List<SiteId> sites = IntStream.range(0, SITES).mapToObj(Workload::site).toList();
    Invariants.recoverAndCheck(
        PG,
        blobRoot,
        sites,
        "DatabaseRestartTest seed "
            + seed
            + ": "
            + workload.done.get()
            + " operations done, "
            + workload.refused.get()
            + " refused (outage included)");
  }

  private static void awaitDone(Workload workload, long done, AtomicReference<Throwable> escaped) {
    Awaitility.await("the workload completes " + done + " operations")
        .atMost(Duration.ofSeconds(120))
        .until(() -> escaped.get() != null || workload.done.get() >= done);
    assertThat(escaped.get()).as("exception escaping the library").isNull();
  }
}
