package dev.durabledeploy.examples.reliability;

import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.testkit.fixtures.PostgresExtension;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue #14, scenario 1: a worker JVM runs the seeded workload on PostgreSQL and filesystem blobs;
 * the test SIGKILLs it ({@code destroyForcibly}) after a random number of operations, restarts it,
 * and after the last kill recovers in this JVM and checks {@link Invariants}.
 *
 * <p>Short form in {@code mvn verify} (5 kills). Long form, reproducible from a seed:
 *
 * <pre>
 * mvn -B -pl examples -am verify -Dtest=KillRestartTest -Dsurefire.failIfNoSpecifiedTests=false \
 *     -Dreliability.kills=20 [-Dreliability.seed=1234]
 * </pre>
 */
class KillRestartTest {

  static final int SITES = 20;

  @RegisterExtension static final PostgresExtension PG = new PostgresExtension();

  @TempDir Path dir;

  @Test
  void killNineAtRandomMomentsLosesNothingAndLeavesNothingStuck() throws Exception {
    long seed = Long.getLong("reliability.seed", System.nanoTime());
    int kills = Integer.getInteger("reliability.kills", 5);
    System.out.println("KillRestartTest seed " + seed + ", kills " + kills);
    SplittableRandom random = new SplittableRandom(seed);
    Path blobRoot = dir.resolve("blobs");
    Deliveries.createTable(PG.dataSource());

    long operations = 0;
    for (int incarnation = 0; incarnation < kills; incarnation++) {
      Path log = dir.resolve("worker-" + incarnation + ".log");
      Process worker = startWorker(blobRoot, random.nextLong(), log);
      int opsBeforeKill = random.nextInt(5, 60);
      awaitOps(worker, log, opsBeforeKill, seed);
      worker.destroyForcibly();
      worker.waitFor();
      operations += opLines(log);
    }

    List<SiteId> sites = IntStream.range(0, SITES).mapToObj(Workload::site).toList();
    Invariants.recoverAndCheck(
        PG,
        blobRoot,
        sites,
        "KillRestartTest seed " + seed + ": " + operations + " operations, " + kills + " kills");
  }

  private Process startWorker(Path blobRoot, long seed, Path log) throws IOException {
    String java = ProcessHandle.current().info().command().orElse("java");
    ProcessBuilder pb =
        new ProcessBuilder(
                java,
                "-Xmx256m",
                "-cp",
                System.getProperty("java.class.path"),
                ReliabilityWorker.class.getName(),
                PG.jdbcUrl(),
                PG.username(),
                blobRoot.toString(),
                Long.toString(seed),
                Integer.toString(SITES))
            .redirectErrorStream(true)
            .redirectOutput(log.toFile());
    pb.environment().put("HARNESS_PG_PASSWORD", PG.password());
    return pb.start();
  }

  private static void awaitOps(Process worker, Path log, int ops, long seed) {
    Awaitility.await("worker reaches " + ops + " operations")
        .atMost(Duration.ofSeconds(120))
        .pollInterval(Duration.ofMillis(20))
        .until(
            () -> {
              if (!worker.isAlive()) {
                throw new AssertionError(
                    "the worker died by itself (seed " + seed + "); its output:\n" + tail(log));
              }
              return opLines(log) >= ops;
            });
  }

  static long opLines(Path log) throws IOException {
    if (!Files.exists(log)) {
      return 0;
    }
    try (var lines = Files.lines(log, StandardCharsets.UTF_8)) {
      return lines.filter(l -> l.startsWith("OP ")).count();
    }
  }

  private static String tail(Path log) throws IOException {
    List<String> lines = new ArrayList<>(Files.readAllLines(log, StandardCharsets.UTF_8));
    return String.join("\n", lines.subList(Math.max(0, lines.size() - 60), lines.size()));
  }
}
