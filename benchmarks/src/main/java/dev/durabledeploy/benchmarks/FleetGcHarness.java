package dev.durabledeploy.benchmarks;

import dev.durabledeploy.core.DeployOptions;
import dev.durabledeploy.core.DurableDeploy;
import dev.durabledeploy.core.blob.FileSystemBlobStore;
import dev.durabledeploy.core.deploy.BlobLayout;
import dev.durabledeploy.core.deploy.Marker;
import dev.durabledeploy.core.gc.GcSweep;
import dev.durabledeploy.core.gc.SiteGc;
import dev.durabledeploy.engine.executor.ExecutorEngine;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.blob.BlobInfo;
import dev.durabledeploy.spi.blob.BlobMetadata;
import dev.durabledeploy.spi.engine.RunId;
import dev.durabledeploy.spi.engine.RunStatus;
import dev.durabledeploy.spi.engine.Submission;
import dev.durabledeploy.spi.outbox.StandardEvents;
import dev.durabledeploy.store.postgres.PostgresStore;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Predicate;
import java.util.stream.Stream;

/**
 * Issue 27 item 8, the fleet GC: {@code plane.gcSweep().run()} over a fleet held in PostgreSQL
 * ({@link PostgresStore} on the suite's durable server) with the filesystem blob store, wired as a
 * host wires the plane: {@code DurableDeploy.builder()} with {@link DeployOptions#defaults()}, a
 * default {@link ExecutorEngine}, {@code start()} (relay, site import and all). The sweep submits
 * {@code gc-site} per site with trash; the figure is the wall time from the sweep's call until
 * every run it submitted has finished (engine run states), and the blob requests per trashed
 * deploy.
 *
 * <p>The fleet: {@code sites} sites of {@value #DEPLOYS} deploys each, one finalized every 12 hours
 * and promoted to {@code production} (so every earlier one is released), the newest an hour old.
 * With the default retention (keep the 3 newest, grace 72 h, marked deploys kept 7 days) the 14
 * deploys of the last 7 days are kept and {@value #TRASHED_PER_SITE} of the 97 older ones are
 * trashed per site. Rows are bulk-inserted ({@code INSERT ... SELECT generate_series}) into the
 * store's own tables after its migrations, exactly the columns the commands write: a {@code sites}
 * record, {@code deploys} rows, the {@code production} alias at version 100. Audit and outbox rows
 * of that history are not seeded (GC reads neither; delivered events are purged after a week). On
 * disk, through the store's {@code put}: every deploy's {@code index.html} and its marker (a real
 * {@link Marker} listing that file), and each site's alias projection: what the sweep and {@code
 * gc-site} stat, list, read and move.
 *
 * <p>After the measured runs the relay delivers the {@code site.changed} events the tombstones
 * appended, and a second, debounced {@code gc-site} per site follows and finds nothing: that
 * follow-up is measured apart (until the outbox is drained and those runs finished), and the blob
 * requests are counted over both, split by who made them.
 */
final class FleetGcHarness implements Bench.Section {

  static final int DEPLOYS = 100;
  static final Duration SPACING = Duration.ofHours(12);
  static final int TRASHED_PER_SITE = 86;

  /**
   * Sites in the suite's run: what fits its time budget (at most about two minutes with the seeding
   * on two loaded cores), as the full fleet's gc-site work (860,000 durable tombstone transactions)
   * takes hours. The full fleet's sweep call is measured by {@code main scan}.
   */
  static final int SUITE_SITES = 20;

  /** The fleet, measured outside the suite ({@link #main}). */
  static final int FULL_SITES = 10_000;

  private static final String SCHEMA = "bench_fleet_gc";
  private static final Duration TIMEOUT = Duration.ofMinutes(60);

  private final int sites;

  FleetGcHarness(int sites) {
    this.sites = sites;
  }

  /** The suite's section. */
  FleetGcHarness() {
    this(SUITE_SITES);
  }

  /** What one sweep did and cost. */
  record Result(
      int sites,
      long deploysTrashed,
      GcSweep.Report report,
      double seedMillis,
      double sweepCallMillis,
      double sweepDoneMillis,
      double followUpMillis,
      Map<CountingBlobStore.Kind, Long> blobCalls,
      Map<CountingBlobStore.Kind, Long> sweepThreadCalls,
      Map<CountingBlobStore.Kind, Long> blobMillis) {}

  @Override
  public List<Figure> run(Bench bench) throws Exception {
    Result r = measure(bench.postgres(), sites);
    return figures(r);
  }

  static List<Figure> figures(Result r) {
    String fleet =
        String.format(
            Locale.ROOT,
            "%,d sites x %d deploys%s",
            r.sites(),
            DEPLOYS,
            r.sites() == FULL_SITES ? "" : " (scaled from 10,000 sites to fit the suite)");
    List<Figure> out = new ArrayList<>();
    out.add(
        Figure.reported(
            "fleet GC sweep, "
                + fleet
                + ", PostgreSQL + filesystem blobs: wall time until every gc-site run finished",
            r.sweepDoneMillis(),
            "ms"));
    out.add(
        Figure.reported(
            "fleet GC sweep, " + fleet + ": the sweep call itself (scan and submit)",
            r.sweepCallMillis(),
            "ms"));
    out.add(
        Figure.reported(
            String.format(
                Locale.ROOT,
                "fleet GC sweep, %s: deploys trashed (%d sites submitted; deploys 12 h apart,"
                    + " the newest 1 h old, DeployOptions defaults: keepLatest 3, grace 72 h,"
                    + " retention 7 d, blastCap 100)",
                fleet,
                r.report().sitesSubmitted()),
            r.deploysTrashed(),
            "deploys"));
    out.add(
        Figure.reported(
            "fleet GC sweep, " + fleet + ": wall time per trashed deploy",
            r.sweepDoneMillis() * 1000.0 / Math.max(1, r.deploysTrashed()),
            "us"));
    long total = r.blobCalls().values().stream().mapToLong(Long::longValue).sum();
    out.add(
        Figure.reported(
            "fleet GC sweep, "
                + fleet
                + ": blob requests per trashed deploy, all kinds (the sweep, its gc-site runs and"
                + " their follow-up runs)",
            total / (double) Math.max(1, r.deploysTrashed()),
            "requests"));
    for (var e : r.blobCalls().entrySet()) {
      if (e.getValue() == 0) {
        continue;
      }
      out.add(
          Figure.reported(
              String.format(
                  Locale.ROOT,
                  "fleet GC sweep, %s: blob %s per trashed deploy (%,d in all, %,d by the sweep's scan)",
                  fleet,
                  e.getKey().name().toLowerCase(Locale.ROOT),
                  e.getValue(),
                  r.sweepThreadCalls().get(e.getKey())),
              e.getValue() / (double) Math.max(1, r.deploysTrashed()),
              "requests"));
    }
    out.add(
        Figure.reported(
            "fleet GC sweep, "
                + fleet
                + ": after it, relay delivery of the tombstones' site.changed and the follow-up"
                + " gc-site runs",
            r.followUpMillis(),
            "ms"));
    return out;
  }

  static Result measure(DurablePostgres pg, int sites) throws Exception {
    Path root = Files.createTempDirectory("fleet-gc-");
    try (Connection c = pg.connect();
        Statement s = c.createStatement()) {
      s.execute("DROP SCHEMA IF EXISTS " + SCHEMA + " CASCADE");
    }
    long seed0 = System.nanoTime();
    try (PostgresStore store =
        PostgresStore.builder()
            .jdbcUrl(pg.url())
            .username(pg.user())
            .password(pg.password())
            .schema(SCHEMA)
            .migrateOnStart(true)
            .build()) {
      Instant now = Instant.now().truncatedTo(ChronoUnit.SECONDS);
      seedRows(pg, sites, now);
      long rows = System.nanoTime();
      FileSystemBlobStore files = new FileSystemBlobStore(root);
      seedBlobs(pg, files, true);
      long bytes = System.nanoTime();
      CountingBlobStore blobs = new CountingBlobStore(files);
      RecordingEngine engine = new RecordingEngine(new ExecutorEngine());
      try (DurableDeploy plane =
          DurableDeploy.builder().store(store).blobStore(blobs).engine(engine).build()) {
        plane.start();
        // The start's site import (every site is registered, so it registers nothing) runs before
        // the measurement, not during it: its submission is accepted when it finished.
        engine.awaitAccepted(TIMEOUT);
        double seedMillis = (System.nanoTime() - seed0) / 1e6;
        System.err.printf(
            Locale.ROOT,
            "fleet GC: seeded %,d sites in %.1f s (rows %.1f s, bytes %.1f s, start %.1f s)%n",
            sites,
            seedMillis / 1e3,
            (rows - seed0) / 1e9,
            (bytes - rows) / 1e9,
            (System.nanoTime() - bytes) / 1e9);

        // The sweep's scan runs on this thread, every gc-site run on an engine worker.
        blobs.reset(Thread.currentThread());
        long t0 = System.nanoTime();
        GcSweep.Report report = plane.gcSweep().run();
        long t1 = System.nanoTime();
        Map<CountingBlobStore.Kind, Long> scanCalls = blobs.watchedSnapshot();
        Set<RunId> swept = engine.runs(bySweep(true));
        await(engine, swept);
        long t2 = System.nanoTime();
        awaitQuiet(store, engine);
        long t3 = System.nanoTime();
        Map<CountingBlobStore.Kind, Long> calls = blobs.snapshot();
        long trashed = count(pg, "SELECT count(*) FROM " + SCHEMA + ".tombstones");
        long failed = failedRuns(engine, engine.runs(x -> true));
        if (failed > 0) {
          throw new IllegalStateException(failed + " gc runs failed; see the log");
        }
        return new Result(
            sites,
            trashed,
            report,
            seedMillis,
            (t1 - t0) / 1e6,
            (t2 - t0) / 1e6,
            (t3 - t2) / 1e6,
            calls,
            scanCalls,
            blobs.millis());
      }
    } finally {
      try (Connection c = pg.connect();
          Statement s = c.createStatement()) {
        s.execute("DROP SCHEMA IF EXISTS " + SCHEMA + " CASCADE");
      }
      deleteTree(root);
    }
  }

  /**
   * The sweep call alone over {@code sites} sites: rows and alias projections only (the sweep reads
   * no marker of a site whose rows already show trash), and {@code gc-site} debounced for an hour
   * so its runs wait while the sweep is timed; closing the plane then drops them. Returns the
   * sweep's wall time in ms and prints its blob requests.
   */
  static double measureScan(DurablePostgres pg, int sites) throws Exception {
    Path root = Files.createTempDirectory("fleet-gc-scan-");
    try (Connection c = pg.connect();
        Statement s = c.createStatement()) {
      s.execute("DROP SCHEMA IF EXISTS " + SCHEMA + " CASCADE");
    }
    try (PostgresStore store =
        PostgresStore.builder()
            .jdbcUrl(pg.url())
            .username(pg.user())
            .password(pg.password())
            .schema(SCHEMA)
            .migrateOnStart(true)
            .build()) {
      long seed0 = System.nanoTime();
      seedRows(pg, sites, Instant.now().truncatedTo(ChronoUnit.SECONDS));
      FileSystemBlobStore files = new FileSystemBlobStore(root);
      seedBlobs(pg, files, false);
      System.err.printf(
          Locale.ROOT, "fleet GC scan: seeded in %.1f s%n", (System.nanoTime() - seed0) / 1e9);
      CountingBlobStore blobs = new CountingBlobStore(files);
      RecordingEngine engine = new RecordingEngine(new ExecutorEngine());
      // Not the start's site import either: on the filesystem store it lists the bucket's root
      // once per site, each listing reading every site's directory entry (quadratic: at 10,000
      // sites it ran for more than 12 minutes), which would compete with the sweep being timed.
      DeployOptions held =
          DeployOptions.builder()
              .gcDebounce(Duration.ofHours(1), Duration.ofHours(1))
              .importSitesOnStart(false)
              .build();
      try (DurableDeploy plane =
          DurableDeploy.builder()
              .store(store)
              .blobStore(blobs)
              .engine(engine)
              .options(held)
              .build()) {
        plane.start();
        engine.awaitAccepted(TIMEOUT);
        blobs.reset(Thread.currentThread());
        long t0 = System.nanoTime();
        GcSweep.Report report = plane.gcSweep().run();
        double millis = (System.nanoTime() - t0) / 1e6;
        System.out.printf(
            Locale.ROOT,
            "sweep call over %,d sites x %d deploys: %.0f ms (%.2f ms per site), %s, blob calls %s,"
                + " ms in them %s%n",
            sites,
            DEPLOYS,
            millis,
            millis / sites,
            report,
            blobs.snapshot(),
            blobs.millis());
        return millis;
      }
    } finally {
      try (Connection c = pg.connect();
          Statement s = c.createStatement()) {
        s.execute("DROP SCHEMA IF EXISTS " + SCHEMA + " CASCADE");
      }
      deleteTree(root);
    }
  }

  /** The sweep's submissions ({@code cause=gc-sweep}), or the relay's ({@code sweep=false}). */
  private static Predicate<Submission> bySweep(boolean sweep) {
    return s ->
        s.workflow().equals(SiteGc.WORKFLOW)
            && GcSweep.WORKFLOW.equals(s.input().get(StandardEvents.KEY_CAUSE)) == sweep;
  }

  /** Polls the runs' states until all are terminal, forgetting each as it finishes. */
  private static void await(RecordingEngine engine, Set<RunId> runs) {
    Set<RunId> open = new HashSet<>(runs);
    long deadline = System.nanoTime() + TIMEOUT.toNanos();
    while (!open.isEmpty()) {
      for (Iterator<RunId> it = open.iterator(); it.hasNext(); ) {
        if (engine.finished(Set.of(it.next()))) {
          it.remove();
        }
      }
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException(open.size() + " runs did not finish in " + TIMEOUT);
      }
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
    }
  }

  /** Until the outbox holds no undelivered event and every gc-site run submitted has finished. */
  private static void awaitQuiet(PostgresStore store, RecordingEngine engine) {
    long deadline = System.nanoTime() + TIMEOUT.toNanos();
    while (true) {
      await(engine, engine.runs(x -> true));
      if (store.outbox().stats().undelivered() == 0) {
        Set<RunId> all = engine.runs(x -> true);
        if (engine.finished(all)) {
          return;
        }
      }
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("the plane did not settle in " + TIMEOUT);
      }
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(50));
    }
  }

  private static long failedRuns(RecordingEngine engine, Set<RunId> runs) {
    long failed = 0;
    for (RunId id : runs) {
      Optional<RunStatus> status = engine.status(id);
      if (status.isPresent()
          && status.get().state() != dev.durabledeploy.spi.engine.RunState.SUCCEEDED) {
        failed++;
        System.err.println("run " + id + ": " + status.get());
      }
    }
    return failed;
  }

  /**
   * The rows finalize (with a promotion to production) and the first deploy's registration write,
   * for {@code sites} sites of {@value #DEPLOYS} deploys each: deploy {@code n} created {@code (99
   * - n) * 12 h + 1 h} ago, finalized 30 s later, released when the next one was promoted.
   */
  private static void seedRows(DurablePostgres pg, int sites, Instant now) throws Exception {
    String deploys =
        "SELECT 'fleet-' || lpad(s::text, 5, '0') AS site, n,"
            + " lpad(to_hex(s * 100 + n), 7, '0') AS sha,"
            + " ?::timestamptz - ((99 - n) * 12 + 1) * interval '1 hour' AS created"
            + " FROM generate_series(0, ? - 1) AS s, generate_series(0, 99) AS n";
    try (Connection c = pg.connect()) {
      c.setAutoCommit(false);
      Timestamp at = Timestamp.from(now);
      try (PreparedStatement ps =
          c.prepareStatement(
              "INSERT INTO "
                  + SCHEMA
                  + ".deploys (site, deploy_id, sha, state, created_at, finalized_at,"
                  + " released_at, restored_at)"
                  + " SELECT site, to_char(created AT TIME ZONE 'UTC', 'YYYYMMDD-HH24MISS') || '-'"
                  + " || sha, sha, 'ACTIVE', created, created + interval '30 seconds',"
                  + " CASE WHEN n < 99 THEN created + interval '12 hours 30 seconds' END, NULL"
                  + " FROM ("
                  + deploys
                  + ") AS d")) {
        ps.setTimestamp(1, at);
        ps.setInt(2, sites);
        ps.executeUpdate();
      }
      try (PreparedStatement ps =
          c.prepareStatement(
              "INSERT INTO "
                  + SCHEMA
                  + ".aliases (site, name, deploy_id, version, updated_at)"
                  + " SELECT site, '"
                  + AliasName.PRODUCTION.value()
                  + "', deploy_id, 100, finalized_at FROM "
                  + SCHEMA
                  + ".deploys WHERE released_at IS NULL")) {
        ps.executeUpdate();
      }
      try (PreparedStatement ps =
          c.prepareStatement(
              "INSERT INTO "
                  + SCHEMA
                  + ".sites (site, display_name, owner, labels, state, created_at, updated_at,"
                  + " purge_after, version)"
                  + " SELECT site, site, 'system', '{}', 'ACTIVE', min(created_at),"
                  + " min(created_at), NULL, 1 FROM "
                  + SCHEMA
                  + ".deploys GROUP BY site")) {
        ps.executeUpdate();
      }
      c.commit();
      c.setAutoCommit(true);
      try (Statement s = c.createStatement()) {
        // What autovacuum would have done for a table that grew to this over months.
        s.execute("ANALYZE " + SCHEMA + ".deploys");
        s.execute("ANALYZE " + SCHEMA + ".aliases");
        s.execute("ANALYZE " + SCHEMA + ".sites");
      }
    }
  }

  /**
   * Through the store's own {@code put}: each deploy's one file and its marker as finalize writes
   * it, each site's production projection as alias-project writes it.
   */
  private static void seedBlobs(DurablePostgres pg, FileSystemBlobStore blobs, boolean deploys)
      throws Exception {
    byte[] page = "<!doctype html><title>fleet</title>".getBytes(StandardCharsets.UTF_8);
    BlobMetadata html = BlobMetadata.ofType("text/html");
    BlobMetadata json = BlobMetadata.ofType("application/json");
    try (Connection c = pg.connect();
        Statement s = c.createStatement()) {
      c.setAutoCommit(false);
      s.setFetchSize(10_000);
      try (ResultSet rs =
          s.executeQuery(
              "SELECT d.site, d.deploy_id, d.sha, d.finalized_at, a.version FROM "
                  + SCHEMA
                  + ".deploys d LEFT JOIN "
                  + SCHEMA
                  + ".aliases a ON a.site = d.site AND a.deploy_id = d.deploy_id")) {
        while (rs.next()) {
          SiteId site = SiteId.of(rs.getString(1));
          DeployId id = DeployId.of(rs.getString(2));
          if (deploys) {
            BlobInfo file =
                blobs.put(
                    BlobLayout.deploy(site, id).resolve("index.html"),
                    new ByteArrayInputStream(page),
                    page.length,
                    html);
            byte[] marker =
                Marker.of(
                        site,
                        id,
                        rs.getString(3),
                        rs.getTimestamp(4).toInstant(),
                        1,
                        Map.of(
                            "index.html",
                            new Marker.VerifiedFile(file.size(), file.etag(), file.sha256())))
                    .toJson();
            blobs.put(
                BlobLayout.marker(site, id), new ByteArrayInputStream(marker), marker.length, json);
          }
          if (rs.getObject(5) != null) {
            byte[] projection =
                ("{\"deployId\":\"" + id.value() + "\",\"version\":" + rs.getLong(5) + "}")
                    .getBytes(StandardCharsets.UTF_8);
            blobs.put(
                BlobLayout.alias(site, AliasName.PRODUCTION),
                new ByteArrayInputStream(projection),
                projection.length,
                new BlobMetadata("application/json", "no-cache"));
          }
        }
      }
      c.commit();
    }
  }

  private static long count(DurablePostgres pg, String sql) throws Exception {
    try (Connection c = pg.connect();
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery(sql)) {
      rs.next();
      return rs.getLong(1);
    }
  }

  private static void deleteTree(Path root) throws IOException {
    try (Stream<Path> tree = Files.walk(root)) {
      for (Path p : tree.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }

  /**
   * Runs the section alone: {@code FleetGcHarness [sites]} (default the suite's {@value
   * #SUITE_SITES}), or {@code FleetGcHarness scan [sites]} for the sweep call alone (default the
   * issue's {@value #FULL_SITES}).
   */
  public static void main(String[] args) throws Exception {
    if (args.length > 0 && args[0].equals("scan")) {
      try (DurablePostgres pg = DurablePostgres.start()) {
        measureScan(pg, args.length > 1 ? Integer.parseInt(args[1]) : FULL_SITES);
      }
      return;
    }
    int sites = args.length > 0 ? Integer.parseInt(args[0]) : SUITE_SITES;
    try (DurablePostgres pg = DurablePostgres.start()) {
      Result r = measure(pg, sites);
      System.out.printf(
          Locale.ROOT,
          "seeding %.0f ms; sweep %s; trashed %d; call %.0f ms, done %.0f ms, follow-up %.0f ms%n"
              + "blob calls %s%nby the sweep's scan %s%nms in blob calls %s%n",
          r.seedMillis(),
          r.report(),
          r.deploysTrashed(),
          r.sweepCallMillis(),
          r.sweepDoneMillis(),
          r.followUpMillis(),
          r.blobCalls(),
          r.sweepThreadCalls(),
          r.blobMillis());
      figures(r).forEach(System.out::println);
    }
  }
}
