package dev.durabledeploy.benchmarks;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.OptionsBuilder;

/**
 * Runs every benchmark and writes {@code benchmarks/results/<date>.md} (figure, baseline, ratio,
 * goal, pass/fail) and a JSON twin. Run it with:
 *
 * <pre>
 * mvn -B -Pbench -pl benchmarks -am package -DskipTests
 * java -jar benchmarks/target/benchmarks.jar [results-directory]
 * </pre>
 */
public final class Suite {

  private record Row(
      String figure,
      double value,
      String unit,
      String baseline,
      double baselineValue,
      String goal,
      boolean pass) {}

  private Suite() {}

  public static void main(String[] args) throws Exception {
    Path out = Path.of(args.length > 0 ? args[0] : "benchmarks/results");
    List<Row> rows = new ArrayList<>();

    Map<String, Double> jmh = new LinkedHashMap<>();
    Collection<RunResult> results =
        new Runner(
                new OptionsBuilder()
                    .include(PlannerBenchmark.class.getSimpleName())
                    .include(EngineBenchmark.class.getSimpleName())
                    .include(EnsureCloneBenchmark.class.getSimpleName())
                    .build())
            .run();
    double warmCloneP99 = Double.NaN;
    for (RunResult r : results) {
      String name = r.getParams().getBenchmark();
      jmh.put(name.substring(name.lastIndexOf('.') + 1), r.getPrimaryResult().getScore());
      if (name.endsWith("warmEnsureClone")) {
        warmCloneP99 = r.getPrimaryResult().getStatistics().getPercentile(99);
      }
    }
    double planMillis = jmh.get("planOneMillionDeploys");
    rows.add(
        new Row(
            "GC plan of 1,000,000 deploys over 10,000 sites",
            planMillis,
            "ms",
            "-",
            Double.NaN,
            "<= 2000 ms",
            planMillis <= 2000));
    double engine = jmh.get("executorEngine");
    double raw = jmh.get("rawThreadPool");
    rows.add(
        new Row(
            "ExecutorEngine no-op runs (4 workers, 1,000 keys)",
            engine,
            "runs/s",
            "raw ThreadPoolExecutor, 4 threads",
            raw,
            ">= 0.7x",
            engine / raw >= 0.7));

    rows.add(
        new Row(
            "warm ensureClone p99",
            warmCloneP99,
            "us",
            "-",
            Double.NaN,
            "<= 50 us",
            warmCloneP99 <= 50));

    double lightWait = FairnessHarness.maxLightWaitMillis(10);
    rows.add(
        new Row(
            "lightest key's max wait behind 10,000 runs of a heavy key",
            lightWait,
            "ms",
            "-",
            Double.NaN,
            "< 100 ms",
            lightWait < 100));

    PostgresHarness.Result pg = PostgresHarness.run(2000);
    rows.add(
        new Row(
            "finalize metadata command p50",
            pg.finalizeP50(),
            "us",
            "single-row INSERT transaction p50",
            pg.insertP50(),
            "<= 1.3x",
            pg.finalizeP50() / pg.insertP50() <= 1.3));
    rows.add(
        new Row(
            "finalize metadata command p99",
            pg.finalizeP99(),
            "us",
            "single-row INSERT transaction p99",
            pg.insertP99(),
            "<= 1.3x",
            pg.finalizeP99() / pg.insertP99() <= 1.3));
    rows.add(
        new Row(
            "outbox claim+ack, batch 100, 100 sites",
            pg.claimAckPerSecond(),
            "events/s",
            "-",
            Double.NaN,
            "-",
            true));
    for (RelayHarness.Result r : pg.relay()) {
      String mode = r.notifications() ? "LISTEN/NOTIFY" : "polling only (100 ms)";
      String label = "relay, " + r.producers() + " producer(s), " + mode;
      rows.add(
          new Row(
              label + ": delivered/s",
              r.deliveredPerSecond(),
              "events/s",
              "committed/s",
              r.committedPerSecond(),
              ">= 0.9x",
              r.deliveredPerSecond() / r.committedPerSecond() >= 0.9));
      rows.add(new Row(label + ": lag p50", r.lagP50Millis(), "ms", "-", Double.NaN, "-", true));
      rows.add(
          new Row(
              label + ": lag p99",
              r.lagP99Millis(),
              "ms",
              "-",
              Double.NaN,
              r.notifications() ? "< 50 ms" : "-",
              !r.notifications() || r.lagP99Millis() < 50));
    }
    for (var cas :
        List.of(
            Map.entry("32 threads x 100, PostgreSQL", pg.cas()),
            Map.entry("32 threads x 1,000, in-memory", pg.casInMemory()))) {
      CasHarness.Result c = cas.getValue();
      rows.add(
          new Row(
              "alias CAS promotes on one alias, "
                  + cas.getKey()
                  + " ("
                  + c.retries()
                  + " drift retries)",
              c.promotesPerSecond(),
              "promotes/s",
              "-",
              Double.NaN,
              "0 lost updates",
              c.lostUpdates() == 0));
    }

    write(out, rows);
  }

  private static void write(Path dir, List<Row> rows) throws Exception {
    Files.createDirectories(dir);
    String date = LocalDate.now(ZoneOffset.UTC).toString();
    StringBuilder md = new StringBuilder("# Benchmark results, " + date + "\n\n");
    md.append("JDK ")
        .append(Runtime.version())
        .append(", ")
        .append(Runtime.getRuntime().availableProcessors())
        .append(" cores. Ratios compare figures measured side by side in this run.\n\n");
    md.append(
        "| figure | value | baseline | baseline value | ratio | goal | pass |\n|---|---|---|---|---|---|---|\n");
    StringBuilder json = new StringBuilder("[\n");
    for (int i = 0; i < rows.size(); i++) {
      Row r = rows.get(i);
      String ratio =
          Double.isNaN(r.baselineValue())
              ? "-"
              : String.format(Locale.ROOT, "%.2fx", r.value() / r.baselineValue());
      md.append(
          String.format(
              Locale.ROOT,
              "| %s | %.1f %s | %s | %s | %s | %s | %s |%n",
              r.figure(),
              r.value(),
              r.unit(),
              r.baseline(),
              Double.isNaN(r.baselineValue())
                  ? "-"
                  : String.format(Locale.ROOT, "%.1f %s", r.baselineValue(), r.unit()),
              ratio,
              r.goal(),
              r.pass() ? "yes" : "NO"));
      json.append(
          String.format(
              Locale.ROOT,
              "  {\"figure\": \"%s\", \"value\": %.3f, \"unit\": \"%s\", \"baseline\": \"%s\", \"baselineValue\": %s, \"goal\": \"%s\", \"pass\": %s}%s%n",
              r.figure(),
              r.value(),
              r.unit(),
              r.baseline(),
              Double.isNaN(r.baselineValue())
                  ? "null"
                  : String.format(Locale.ROOT, "%.3f", r.baselineValue()),
              r.goal(),
              r.pass(),
              i < rows.size() - 1 ? "," : ""));
    }
    json.append("]\n");
    Files.writeString(dir.resolve(date + ".md"), md, StandardCharsets.UTF_8);
    Files.writeString(dir.resolve(date + ".json"), json, StandardCharsets.UTF_8);
    System.out.println(md);
  }
}
