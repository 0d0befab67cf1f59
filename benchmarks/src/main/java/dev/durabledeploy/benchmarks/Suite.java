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

  /**
   * The sections measured after the figures above, each on the same durable server; a new figure is
   * a new section here.
   */
  private static final List<Map.Entry<String, Bench.Section>> SECTIONS =
      List.of(
          Map.entry("multi-host drain", MultiHostDrainHarness::section),
          Map.entry("metadata commands", new MetadataCommandsSection()),
          Map.entry("uploads and finalize", new UploadHarness()),
          Map.entry("fleet GC", new FleetGcHarness()),
          Map.entry("promote -> live", new PromoteLiveHarness()));

  private Suite() {}

  public static void main(String[] args) throws Exception {
    Path out = Path.of(args.length > 0 ? args[0] : "benchmarks/results");
    Laps laps = new Laps();
    try (DurablePostgres postgres = DurablePostgres.start()) {
      laps.lap("durable PostgreSQL start");
      run(new Bench(postgres, out, date()), laps);
    }
  }

  private static void run(Bench bench, Laps laps) throws Exception {
    Path out = bench.out();
    List<Figure> rows = new ArrayList<>();

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
    laps.lap("JMH (planner, engine, ensureClone)");
    double planMillis = jmh.get("planOneMillionDeploys");
    rows.add(
        new Figure(
            "GC plan of 1,000,000 deploys over 10,000 sites",
            planMillis,
            "ms",
            "-",
            Double.NaN,
            "<= 2000 ms",
            planMillis <= 2000));
    double engine = jmh.get("executorEngine");
    double raw = jmh.get("rawThreadPool");
    // No goal (#27 item 9): a deploy plane's runs do milliseconds of I/O; microseconds of
    // bookkeeping per run are not what its users feel.
    rows.add(
        Figure.beside(
            "ExecutorEngine no-op runs (4 workers, 1,000 keys)",
            engine,
            "runs/s",
            "raw ThreadPoolExecutor, 4 threads",
            raw));

    rows.add(
        new Figure(
            "warm ensureClone p99",
            warmCloneP99,
            "us",
            "-",
            Double.NaN,
            "<= 50 us",
            warmCloneP99 <= 50));

    double lightWait = FairnessHarness.maxLightWaitMillis(10);
    rows.add(
        new Figure(
            "lightest key's max wait behind 10,000 runs of a heavy key",
            lightWait,
            "ms",
            "-",
            Double.NaN,
            "< 100 ms",
            lightWait < 100));

    laps.lap("fairness");
    PostgresHarness.Result pg = PostgresHarness.run(bench.postgres(), 2000, laps);
    rows.add(
        new Figure(
            "finalize metadata command p50",
            pg.finalizeP50(),
            "us",
            "single-row INSERT transaction p50",
            pg.insertP50(),
            "<= 2x",
            pg.finalizeP50() / pg.insertP50() <= 2));
    rows.add(
        Figure.beside(
            "finalize metadata command p99",
            pg.finalizeP99(),
            "us",
            "single-row INSERT transaction p99",
            pg.insertP99()));
    rows.add(
        new Figure(
            "promote metadata command p50",
            pg.promote().p50(),
            "us",
            "single-row INSERT transaction p50",
            pg.promote().baselineP50(),
            "<= 2x",
            pg.promote().p50() / pg.promote().baselineP50() <= 2));
    rows.add(
        Figure.beside(
            "promote metadata command p99",
            pg.promote().p99(),
            "us",
            "single-row INSERT transaction p99",
            pg.promote().baselineP99()));
    rows.add(
        new Figure(
            "outbox claim+ack, batch 100, 100 sites",
            pg.claimAckPerSecond(),
            "events/s",
            "-",
            Double.NaN,
            "-",
            true));
    // Relay lag (issue 27, item 2): at every producer count, beside gruelbox in the same run, our
    // p99 at most gruelbox's, our p50 within 2x of gruelbox's, delivered >= 0.95x committed.
    for (int producers : PostgresHarness.RELAY_PRODUCERS) {
      OutboxLoad.Result ours = relayResult(pg, producers, "LISTEN/NOTIFY");
      OutboxLoad.Result polling = relayResult(pg, producers, "polling only");
      OutboxLoad.Result peer = relayResult(pg, producers, "gruelbox");
      String label = "relay, " + producers + " producer(s), " + ours.outbox();
      String same = peer.outbox() + ", " + producers + " producer(s), same run";
      rows.add(
          new Figure(
              label + ": lag p50",
              ours.lagP50Millis(),
              "ms",
              same + ": lag p50",
              peer.lagP50Millis(),
              "<= 2x",
              ours.lagP50Millis() <= 2 * peer.lagP50Millis()));
      rows.add(
          new Figure(
              label + ": lag p99",
              ours.lagP99Millis(),
              "ms",
              same + ": lag p99",
              peer.lagP99Millis(),
              "<= 1x",
              ours.lagP99Millis() <= peer.lagP99Millis()));
      rows.add(
          new Figure(
              label + ": delivered/s",
              ours.deliveredPerSecond(),
              "events/s",
              "committed/s",
              ours.committedPerSecond(),
              ">= 0.95x",
              ours.deliveredPerSecond() >= 0.95 * ours.committedPerSecond()));
      for (OutboxLoad.Result r : List.of(polling, peer)) {
        String other = "relay, " + producers + " producer(s), " + r.outbox();
        rows.add(
            Figure.beside(
                other + ": delivered/s",
                r.deliveredPerSecond(),
                "events/s",
                "committed/s",
                r.committedPerSecond()));
        rows.add(Figure.reported(other + ": lag p50", r.lagP50Millis(), "ms"));
        rows.add(Figure.reported(other + ": lag p99", r.lagP99Millis(), "ms"));
      }
      // Where the lag's tail goes: the lag runs from the commit's start, so a durable commit's
      // fsync tail is in both sides' p99.
      for (OutboxLoad.Result r : List.of(ours, peer)) {
        rows.add(
            Figure.beside(
                "relay, " + producers + " producer(s), " + r.outbox() + ": the commit itself p99",
                r.commitP99Millis(),
                "ms",
                "lag p99, same events",
                r.lagP99Millis()));
      }
    }
    rows.add(
        new Figure(
            String.format(
                Locale.ROOT,
                "outbox backlog drain, %,d events committed while the consumer was off, durable-deploy",
                PostgresHarness.DRAIN_EVENTS),
            pg.drainPerSecond(),
            "events/s",
            "gruelbox transaction-outbox 4.2 flush(), same backlog",
            pg.peerDrainPerSecond(),
            ">= 3x",
            pg.drainPerSecond() / pg.peerDrainPerSecond() >= 3));
    PgPlanHarness.Result plan = pg.planning();
    rows.add(
        new Figure(
            String.format(
                Locale.ROOT,
                "GC plan read from PostgreSQL, %,d deploys over %d sites",
                plan.deploys(),
                plan.sites()),
            plan.fromPostgresMillis(),
            "ms",
            "same rows already in memory",
            plan.inMemoryMillis(),
            "-",
            true));
    for (var cas :
        List.of(
            Map.entry("32 threads x 50, PostgreSQL", pg.cas()),
            Map.entry("32 threads x 1,000, in-memory", pg.casInMemory()))) {
      CasHarness.Result c = cas.getValue();
      rows.add(
          new Figure(
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

    ValkeyHarness.Result vk = ValkeyHarness.run(2000);
    laps.lap("Valkey");
    String on = " on Valkey (" + vk.server() + ")";
    rows.add(
        new Figure(
            "finalize metadata command p50" + on,
            vk.finalizeP50(),
            "us",
            "bare SET round trip p50",
            vk.setP50(),
            "-",
            true));
    rows.add(
        new Figure(
            "finalize metadata command p99" + on,
            vk.finalizeP99(),
            "us",
            "bare SET round trip p99",
            vk.setP99(),
            "-",
            true));
    rows.add(
        new Figure(
            "finalize metadata command p50" + on,
            vk.finalizeP50(),
            "us",
            "same command on PostgreSQL p50",
            pg.finalizeP50(),
            "-",
            true));
    rows.add(
        new Figure(
            "outbox claim+ack, batch 100, 100 sites" + on,
            vk.claimAckPerSecond(),
            "events/s",
            "same on PostgreSQL",
            pg.claimAckPerSecond(),
            "-",
            true));
    for (OutboxLoad.Result r : vk.relay()) {
      OutboxLoad.Result pgRelay = relayResult(pg, r.producers(), "LISTEN/NOTIFY");
      String label = "relay, " + r.producers() + " producer(s), " + r.outbox();
      rows.add(
          new Figure(
              label + ": delivered/s",
              r.deliveredPerSecond(),
              "events/s",
              "committed/s",
              r.committedPerSecond(),
              ">= 0.9x",
              r.deliveredPerSecond() / r.committedPerSecond() >= 0.9));
      rows.add(
          new Figure(
              label + ": lag p99",
              r.lagP99Millis(),
              "ms",
              "PostgreSQL LISTEN/NOTIFY lag p99",
              pgRelay.lagP99Millis(),
              "< 50 ms",
              r.lagP99Millis() < 50));
    }
    rows.add(
        new Figure(
            String.format(
                Locale.ROOT,
                "outbox backlog drain, %,d events%s",
                PostgresHarness.DRAIN_EVENTS,
                on),
            vk.drainPerSecond(),
            "events/s",
            "same on PostgreSQL",
            pg.drainPerSecond(),
            "-",
            true));
    rows.add(
        new Figure(
            "alias CAS promotes on one alias, 32 threads x 50"
                + on
                + " ("
                + vk.cas().retries()
                + " drift retries)",
            vk.cas().promotesPerSecond(),
            "promotes/s",
            "same on PostgreSQL",
            pg.cas().promotesPerSecond(),
            "0 lost updates",
            vk.cas().lostUpdates() == 0));

    ColdHerdHarness.Result herd = ColdHerdHarness.run(100, 5);
    rows.add(
        new Figure(
            "cold ensureClone herd, 100 callers: last caller served ("
                + herd.clones()
                + " clone(s))",
            herd.herdMillis(),
            "ms",
            "one lone caller's cold clone",
            herd.singleMillis(),
            "1 clone, <= 1.5x",
            herd.clones() == 1 && herd.herdMillis() / herd.singleMillis() <= 1.5));

    laps.lap("cold ensureClone herd");
    for (Map.Entry<String, Bench.Section> section : SECTIONS) {
      rows.addAll(section.getValue().run(bench));
      laps.lap(section.getKey());
    }

    write(bench, rows, laps);
    LagChart.write(out.resolve(date() + "-relay-lag.png"), pg.relay());
  }

  private static OutboxLoad.Result relayResult(
      PostgresHarness.Result pg, int producers, String outboxContains) {
    return pg.relay().stream()
        .filter(r -> r.producers() == producers && r.outbox().contains(outboxContains))
        .findFirst()
        .orElseThrow();
  }

  private static String date() {
    return LocalDate.now(ZoneOffset.UTC).toString();
  }

  private static void write(Bench bench, List<Figure> rows, Laps laps) throws Exception {
    Path dir = bench.out();
    Files.createDirectories(dir);
    String date = date();
    StringBuilder md = new StringBuilder("# Benchmark results, " + date + "\n\n");
    md.append("JDK ")
        .append(Runtime.version())
        .append(", ")
        .append(Runtime.getRuntime().availableProcessors())
        .append(" cores. Ratios compare figures measured side by side in this run. ")
        .append(laps.summary())
        .append("\n\n")
        .append("PostgreSQL (every PostgreSQL figure, library and baselines alike): ")
        .append(bench.postgres().describe())
        .append(".\n\n")
        .append("Relay lag percentiles: ![relay lag](")
        .append(date)
        .append("-relay-lag.png)\n\n")
        .append("Promote -> live percentiles: ![promote -> live](")
        .append(date)
        .append("-promote-live.png)\n\n");
    md.append(
        "| figure | value | baseline | baseline value | ratio | goal | pass |\n|---|---|---|---|---|---|---|\n");
    StringBuilder json =
        new StringBuilder("{\n")
            .append("  \"date\": \"")
            .append(date)
            .append("\",\n  \"jdk\": \"")
            .append(Runtime.version())
            .append("\",\n  \"cores\": ")
            .append(Runtime.getRuntime().availableProcessors())
            .append(",\n  \"postgres\": \"")
            .append(bench.postgres().describe())
            .append("\",\n  \"figures\": [\n");
    for (int i = 0; i < rows.size(); i++) {
      Figure r = rows.get(i);
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
              "    {\"figure\": \"%s\", \"value\": %.3f, \"unit\": \"%s\", \"baseline\": \"%s\", \"baselineValue\": %s, \"goal\": \"%s\", \"pass\": %s}%s%n",
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
    json.append("  ]\n}\n");
    Files.writeString(dir.resolve(date + ".md"), md, StandardCharsets.UTF_8);
    Files.writeString(dir.resolve(date + ".json"), json, StandardCharsets.UTF_8);
    System.out.println(md);
  }
}
