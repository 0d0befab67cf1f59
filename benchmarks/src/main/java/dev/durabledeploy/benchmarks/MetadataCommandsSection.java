package dev.durabledeploy.benchmarks;

import dev.durabledeploy.core.DurableDeploy;
import dev.durabledeploy.core.blob.FileSystemBlobStore;
import dev.durabledeploy.core.deploy.DeployService;
import dev.durabledeploy.core.deploy.Manifest;
import dev.durabledeploy.core.metadata.MetadataCommands;
import dev.durabledeploy.engine.executor.ExecutorEngine;
import dev.durabledeploy.spi.Actor;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.UploadPath;
import dev.durabledeploy.spi.blob.BlobKey;
import dev.durabledeploy.spi.blob.BlobMetadata;
import dev.durabledeploy.spi.metadata.AliasExpectation;
import dev.durabledeploy.store.postgres.PostgresStore;
import dev.durabledeploy.testkit.fixtures.TcpProxy;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * What the metadata commands cost beyond their latency (measured in {@link PostgresHarness}): the
 * round trips each takes on its connection, counted by a TCP proxy ({@link TcpProxy}: one round
 * trip per turn of the conversation, so statements pipelined before the client waits count once)
 * beside a bare single-row INSERT transaction; and the whole {@code finalizeDeploy} saga ({@link
 * DeployService} on the filesystem blob store and {@link PostgresStore}) beside what a host would
 * write by hand: the marker put and one INSERT transaction.
 */
final class MetadataCommandsSection implements Bench.Section {

  static final int ROUND_TRIP_SAMPLES = 50;
  static final int SAGA_SAMPLES = 300;
  private static final int SAGA_WARM_UP = 50;

  @Override
  public List<Figure> run(Bench bench) throws Exception {
    List<Figure> rows = new ArrayList<>();
    RoundTrips trips = roundTrips(bench.postgres());
    rows.add(
        Figure.beside(
            "finalize metadata command: round trips per command",
            trips.activate(),
            "round trips",
            "single-row INSERT transaction",
            trips.insert()));
    rows.add(
        Figure.beside(
            "promote metadata command: round trips per command",
            trips.promote(),
            "round trips",
            "single-row INSERT transaction",
            trips.insert()));
    Saga saga = saga(bench.postgres());
    rows.add(
        Figure.beside(
            "finalizeDeploy saga p50 (filesystem blobs, 1 file)",
            saga.sagaP50(),
            "us",
            "by hand: marker put + one INSERT transaction, p50",
            saga.handP50()));
    rows.add(
        Figure.beside(
            "finalizeDeploy saga p99 (filesystem blobs, 1 file)",
            saga.sagaP99(),
            "us",
            "by hand: marker put + one INSERT transaction, p99",
            saga.handP99()));
    rows.add(
        Figure.beside(
            "finalizeDeploy saga: round trips to PostgreSQL",
            saga.sagaRoundTrips(),
            "round trips",
            "by hand: one INSERT transaction",
            1));
    return rows;
  }

  record RoundTrips(double activate, double promote, double insert) {}

  /**
   * Round trips per command, averaged over {@value #ROUND_TRIP_SAMPLES} commands of each kind after
   * as many again to warm up (the driver describes a statement the first times it sees it).
   */
  static RoundTrips roundTrips(DurablePostgres pg) throws Exception {
    try (TcpProxy counter = counter(pg);
        PostgresStore store = store(pg, proxied(pg, counter), 1);
        Connection bare =
            java.sql.DriverManager.getConnection(proxied(pg, counter), pg.user(), pg.password())) {
      createBaselineTable(bare);
      SiteId site = SiteId.of("bench-round-trips");
      MetadataCommands commands = new MetadataCommands(store.metadata());
      Instant base = Instant.parse("2026-02-01T00:00:00Z");
      int n = 2 * ROUND_TRIP_SAMPLES + 1;
      DeployId[] ids = new DeployId[n];
      for (int i = 0; i < n; i++) {
        ids[i] = DeployId.forSha(base.plusSeconds(i), String.format("%07x", i));
        commands.createPending(site, ids[i], null, Actor.SYSTEM);
      }
      commands.activate(site, ids[0], AliasName.PRODUCTION, AliasExpectation.ANY, Actor.SYSTEM);
      long finalize = 0;
      long promote = 0;
      long insert = 0;
      try (PreparedStatement ps = insertStatement(bare)) {
        for (int i = 1; i < n; i++) {
          boolean counted = i > ROUND_TRIP_SAMPLES;
          long t0 = counter.roundTrips();
          commands.activate(site, ids[i], AliasName.PRODUCTION, AliasExpectation.ANY, Actor.SYSTEM);
          long t1 = counter.roundTrips();
          commands.moveAlias(
              site, AliasName.PRODUCTION, ids[i - 1], AliasExpectation.ANY, Actor.SYSTEM);
          long t2 = counter.roundTrips();
          insert(ps, ids[i]);
          long t3 = counter.roundTrips();
          if (counted) {
            finalize += t1 - t0;
            promote += t2 - t1;
            insert += t3 - t2;
          }
        }
      }
      return new RoundTrips(
          finalize / (double) ROUND_TRIP_SAMPLES,
          promote / (double) ROUND_TRIP_SAMPLES,
          insert / (double) ROUND_TRIP_SAMPLES);
    }
  }

  record Saga(
      double sagaP50, double sagaP99, double handP50, double handP99, double sagaRoundTrips) {}

  /**
   * {@code finalizeDeploy} of a one-file deploy, then by hand a marker put on the same blob store
   * and one INSERT transaction on the same server, alternated; then the saga's round trips to
   * PostgreSQL through the counting proxy.
   */
  static Saga saga(DurablePostgres pg) throws Exception {
    Path root = Files.createTempDirectory("durable-deploy-bench-saga");
    FileSystemBlobStore blobs = new FileSystemBlobStore(root);
    long[] saga = new long[SAGA_SAMPLES];
    long[] hand = new long[SAGA_SAMPLES];
    double sagaTrips;
    try (PostgresStore store = store(pg, pg.url(), 4);
        DurableDeploy plane = plane(store, blobs);
        Connection bare = pg.connect()) {
      createBaselineTable(bare);
      DeployService deploys = plane.deploys();
      SiteId site = SiteId.of("bench-saga");
      try (PreparedStatement ps = insertStatement(bare)) {
        for (int i = 0; i < SAGA_WARM_UP + SAGA_SAMPLES; i++) {
          DeployId id = deployWithIndex(deploys, site);
          long t0 = System.nanoTime();
          deploys.finalizeDeploy(site, id, AliasName.PRODUCTION, Manifest.of("index.html"));
          long t1 = System.nanoTime();
          blobs.put(
              BlobKey.of("by-hand/" + id.value() + "/marker.json"),
              new ByteArrayInputStream(marker(id)),
              marker(id).length,
              BlobMetadata.ofType("application/json"));
          insert(ps, id);
          long t2 = System.nanoTime();
          if (i >= SAGA_WARM_UP) {
            saga[i - SAGA_WARM_UP] = t1 - t0;
            hand[i - SAGA_WARM_UP] = t2 - t1;
          }
        }
      }
    }
    try (TcpProxy counter = counter(pg);
        PostgresStore store = store(pg, proxied(pg, counter), 4);
        DurableDeploy plane = plane(store, blobs)) {
      DeployService deploys = plane.deploys();
      SiteId site = SiteId.of("bench-saga-trips");
      long trips = 0;
      int counted = 20;
      for (int i = 0; i < 2 * counted; i++) {
        DeployId id = deployWithIndex(deploys, site);
        long before = counter.roundTrips();
        deploys.finalizeDeploy(site, id, AliasName.PRODUCTION, Manifest.of("index.html"));
        if (i >= counted) {
          trips += counter.roundTrips() - before;
        }
      }
      sagaTrips = trips / (double) counted;
    }
    Percentiles s = new Percentiles(saga);
    Percentiles h = new Percentiles(hand);
    return new Saga(s.micros(50), s.micros(99), h.micros(50), h.micros(99), sagaTrips);
  }

  private static DeployId deployWithIndex(DeployService deploys, SiteId site) {
    DeployId id = deploys.init(site, null).id();
    byte[] html = "<html>bench</html>".getBytes(StandardCharsets.UTF_8);
    deploys.upload(
        site, id, UploadPath.of("index.html"), new ByteArrayInputStream(html), html.length);
    return id;
  }

  /** About what the library's marker holds for one file. */
  private static byte[] marker(DeployId id) {
    return String.format(
            Locale.ROOT,
            "{\"deployId\":\"%s\",\"files\":[{\"path\":\"index.html\",\"size\":18,"
                + "\"etag\":\"0123456789abcdef0123456789abcdef\"}]}",
            id.value())
        .getBytes(StandardCharsets.UTF_8);
  }

  private static DurableDeploy plane(PostgresStore store, FileSystemBlobStore blobs) {
    // Not started: the relay and the engine would only add load beside the measured calls.
    return DurableDeploy.builder()
        .store(store)
        .blobStore(blobs)
        .engine(ExecutorEngine.builder().build())
        .build();
  }

  private static PostgresStore store(DurablePostgres pg, String url, int poolSize) {
    return PostgresStore.builder()
        .jdbcUrl(url)
        .username(pg.user())
        .password(pg.password())
        .poolSize(poolSize)
        .migrateOnStart(true)
        .build();
  }

  private static TcpProxy counter(DurablePostgres pg) {
    return TcpProxy.to(java.net.URI.create(pg.url().substring("jdbc:".length())));
  }

  private static String proxied(DurablePostgres pg, TcpProxy counter) {
    return counter.jdbcUrl(pg.url());
  }

  private static void createBaselineTable(Connection c) throws SQLException {
    try (Statement s = c.createStatement()) {
      s.execute(
          "CREATE TABLE IF NOT EXISTS bench_insert (id bigserial PRIMARY KEY, site text, payload text, at timestamptz)");
    }
  }

  private static PreparedStatement insertStatement(Connection c) throws SQLException {
    return c.prepareStatement("INSERT INTO bench_insert (site, payload, at) VALUES (?, ?, now())");
  }

  private static void insert(PreparedStatement ps, DeployId id) throws SQLException {
    ps.setString(1, "bench");
    ps.setString(2, "{\"deployId\":\"" + id.value() + "\"}");
    ps.executeUpdate();
  }

  /** Runs this section alone on a durable server: {@code java -cp ... MetadataCommandsSection}. */
  public static void main(String[] args) throws Exception {
    try (DurablePostgres pg = DurablePostgres.start()) {
      Bench bench = new Bench(pg, Path.of("target"), "now");
      System.out.println(pg.describe());
      int samples = args.length > 0 ? Integer.parseInt(args[0]) : 2000;
      try (PostgresStore store = store(pg, pg.url(), 10);
          Connection bare = pg.connect()) {
        createBaselineTable(bare);
        try (PreparedStatement ps = insertStatement(bare)) {
          StoreFigures.Commands c =
              StoreFigures.commandLatencies(
                  store,
                  samples,
                  (id, i) -> {
                    try {
                      insert(ps, id);
                    } catch (SQLException e) {
                      throw new IllegalStateException(e);
                    }
                  });
          System.out.println("finalize " + c.activate());
          System.out.println("promote  " + c.promote());
        }
      }
      for (Figure f : new MetadataCommandsSection().run(bench)) {
        System.out.println(f);
      }
    }
  }
}
