package dev.durabledeploy.examples.reliability;

import dev.durabledeploy.core.blob.FileSystemBlobStore;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.testkit.fixtures.PostgresExtension;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.TreeSet;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue #14, scenario 1: a worker JVM runs the seeded workload on PostgreSQL and filesystem blobs;
 * the test SIGKILLs it ({@code destroyForcibly}) after a random number of operations and restarts
 * it. After every kill, with nothing running, it checks issue 20's invariants on the state the kill
 * left ({@link Invariants#afterKill}); after the last kill it recovers in this JVM and checks all
 * of {@link Invariants}. The worker's own checks of each race (its {@code VIOLATION} lines) count
 * too.
 *
 * <p>Short form in {@code mvn verify} (5 kills, 160 operations). Long form, reproducible from a
 * seed (20 kills, 1,000 operations):
 *
 * <pre>
 * mvn -B -pl examples -am verify -Dtest=KillRestartTest -Dsurefire.failIfNoSpecifiedTests=false \
 *     -Dreliability.kills=20 [-Dreliability.operations=1000] [-Dreliability.seed=1234]
 * </pre>
 */
class KillRestartTest {

  static final int SITES = 20;

  /**
   * Operations per kill on average, unless {@code reliability.operations} says otherwise: the short
   * form (5 kills) runs 160, as many as it ran before the races were added, so {@code mvn verify}
   * takes about as long; the long form (20 kills and more) 50 per kill, 1,000 at 20.
   */
  static final int OPERATIONS_PER_KILL = 32;

  static final int OPERATIONS_PER_KILL_LONG = 50;

  @RegisterExtension static final PostgresExtension PG = new PostgresExtension();

  @TempDir Path dir;

  @Test
  void killNineAtRandomMomentsLosesNothingAndLeavesNothingStuck() throws Exception {
    long began = System.nanoTime();
    long seed = Long.getLong("reliability.seed", System.nanoTime());
    int kills = Integer.getInteger("reliability.kills", 5);
    long target =
        Long.getLong(
            "reliability.operations",
            (long) kills * (kills >= 20 ? OPERATIONS_PER_KILL_LONG : OPERATIONS_PER_KILL));
    System.out.println(
        "KillRestartTest seed " + seed + ", kills " + kills + ", operations " + target);
    SplittableRandom random = new SplittableRandom(seed);
    Path blobRoot = dir.resolve("blobs");
    Deliveries.createTable(PG.dataSource());
    List<SiteId> sites = Workload.sites(SITES);
    int mean = (int) Math.max(10, target / kills);

    long operations = 0;
    long afterKillChecks = 0;
    long checkingNanos = 0;
    long startingNanos = 0;
    long runningNanos = 0;
    Set<String> unsettled = new TreeSet<>();
    List<String> violations = new ArrayList<>();
    Map<String, Long> stats = new TreeMap<>();
    // Reads only, never started: the state it inspects is the one the kill left.
    try (Plane inspector =
        new Plane(PG.jdbcUrl(), PG.username(), PG.password(), new FileSystemBlobStore(blobRoot))) {
      for (int incarnation = 0; incarnation < kills; incarnation++) {
        Path log = dir.resolve("worker-" + incarnation + ".log");
        long starting = System.nanoTime();
        Process worker = startWorker(blobRoot, random.nextLong(), incarnation, log);
        int opsBeforeKill = random.nextInt(5, 2 * mean - 4);
        if (incarnation == kills - 1) {
          opsBeforeKill = (int) Math.max(5, target - operations); // the run reaches its target
        }
        awaitOps(worker, log, 0, seed);
        long ready = System.nanoTime();
        awaitOps(worker, log, opsBeforeKill, seed);
        startingNanos += ready - starting;
        runningNanos += System.nanoTime() - ready;
        worker.destroyForcibly();
        worker.waitFor();

        WorkerLog output = WorkerLog.read(log);
        operations += output.ops();
        unsettled.addAll(output.unsettled());
        output.violations().forEach(v -> violations.add("worker " + incarnation(log) + ": " + v));
        output.stats().forEach((k, v) -> stats.merge(k, v, Long::sum));
        long checking = System.nanoTime();
        Invariants.Checked afterKill =
            Invariants.afterKill(inspector, PG.dataSource(), sites, unsettled);
        checkingNanos += System.nanoTime() - checking;
        afterKillChecks += afterKill.checks();
        int kill = incarnation + 1;
        afterKill.violations().forEach(v -> violations.add("after kill " + kill + ": " + v));
      }
    }

    long inlineChecks = stats.getOrDefault("checks", 0L);
    Invariants.recoverAndCheck(
        PG,
        blobRoot,
        sites,
        unsettled,
        violations,
        String.format(
            "KillRestartTest seed %d: %d operations, %d kills, %d s (workers starting %d s,"
                + " running %d s, checking after kills %d s); %d uploads unsettled at a"
                + " kill; worker counters %s; %d race checks in the workers, %d invariant checks"
                + " after kills, %d violations before the recovery",
            seed,
            operations,
            kills,
            Duration.ofNanos(System.nanoTime() - began).toSeconds(),
            Duration.ofNanos(startingNanos).toSeconds(),
            Duration.ofNanos(runningNanos).toSeconds(),
            Duration.ofNanos(checkingNanos).toSeconds(),
            unsettled.size(),
            stats,
            inlineChecks,
            afterKillChecks,
            violations.size()));
  }

  private static String incarnation(Path log) {
    String name = log.getFileName().toString();
    return name.substring("worker-".length(), name.length() - ".log".length());
  }

  private Process startWorker(Path blobRoot, long seed, int incarnation, Path log)
      throws IOException {
    String java = ProcessHandle.current().info().command().orElse("java");
    ProcessBuilder pb =
        new ProcessBuilder(
                java,
                "-Xmx256m",
                // A worker lives seconds on a shared machine: quick compiles, one GC thread.
                "-XX:TieredStopAtLevel=1",
                "-XX:+UseSerialGC",
                "-cp",
                System.getProperty("java.class.path"),
                ReliabilityWorker.class.getName(),
                PG.jdbcUrl(),
                PG.username(),
                blobRoot.toString(),
                Long.toString(seed),
                Integer.toString(SITES),
                Integer.toString(incarnation))
            .redirectErrorStream(true)
            .redirectOutput(log.toFile());
    pb.environment().put("HARNESS_PG_PASSWORD", PG.password());
    return pb.start();
  }

  private static void awaitOps(Process worker, Path log, int ops, long seed) {
    Awaitility.await(ops == 0 ? "worker is ready" : "worker reaches " + ops + " operations")
        .atMost(Duration.ofSeconds(180))
        .pollInterval(Duration.ofMillis(20))
        .until(
            () -> {
              if (!worker.isAlive()) {
                throw new AssertionError(
                    "the worker died by itself (seed " + seed + "); its output:\n" + tail(log));
              }
              return ops == 0 ? ready(log) : opLines(log) >= ops;
            });
  }

  private static boolean ready(Path log) throws IOException {
    if (!Files.exists(log)) {
      return false;
    }
    try (var lines = Files.lines(log, StandardCharsets.UTF_8)) {
      return lines.anyMatch(l -> l.equals("READY"));
    }
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

  /**
   * What a killed worker printed: its operations, the uploads it began and had not settled when it
   * died (each key's lines come in order: the workload never uploads one path twice at once), its
   * violations and its last counters.
   */
  record WorkerLog(
      long ops, Set<String> unsettled, List<String> violations, Map<String, Long> stats) {

    static WorkerLog read(Path log) throws IOException {
      long ops = 0;
      Set<String> open = new LinkedHashSet<>();
      List<String> violations = new ArrayList<>();
      String lastStats = "";
      String content = Files.readString(log, StandardCharsets.UTF_8);
      List<String> lines = new ArrayList<>(List.of(content.split("\n", -1)));
      // The kill may cut the last line short (or leave it empty after the last newline): drop it.
      lines.remove(lines.size() - 1);
      for (String line : lines) {
        if (line.startsWith("OP ")) {
          ops++;
        } else if (line.startsWith("UPLOAD ")) {
          open.add(line.substring("UPLOAD ".length()));
        } else if (line.startsWith("SETTLED ")) {
          open.remove(line.substring("SETTLED ".length()));
        } else if (line.startsWith("VIOLATION ")) {
          violations.add(line.substring("VIOLATION ".length()));
        } else if (line.startsWith("STATS ")) {
          lastStats = line.substring("STATS ".length());
        }
      }
      Map<String, Long> stats = new TreeMap<>();
      for (String pair : lastStats.split(" ")) {
        int eq = pair.indexOf('=');
        if (eq > 0) {
          stats.put(pair.substring(0, eq), Long.parseLong(pair.substring(eq + 1)));
        }
      }
      return new WorkerLog(ops, open, violations, stats);
    }
  }
}
