package dev.durabledeploy.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.durabledeploy.blob.s3.S3BlobStore;
import dev.durabledeploy.core.DeployOptions;
import dev.durabledeploy.core.DurableDeploy;
import dev.durabledeploy.core.deploy.BlobLayout;
import dev.durabledeploy.core.deploy.Manifest;
import dev.durabledeploy.core.gc.GcReport;
import dev.durabledeploy.core.reconcile.DriftReport;
import dev.durabledeploy.engine.executor.ExecutorEngine;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.DeployStateException;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.Store;
import dev.durabledeploy.spi.UploadPath;
import dev.durabledeploy.spi.blob.BlobStore;
import dev.durabledeploy.spi.metadata.AliasExpectation;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.store.memory.InMemoryStore;
import dev.durabledeploy.store.postgres.PostgresStore;
import dev.durabledeploy.store.valkey.ValkeyStore;
import dev.durabledeploy.testkit.GatedInputStream;
import dev.durabledeploy.testkit.MutableClock;
import dev.durabledeploy.testkit.fixtures.PostgresExtension;
import dev.durabledeploy.testkit.fixtures.S3Extension;
import dev.durabledeploy.testkit.fixtures.ValkeyExtension;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;

/**
 * One scenario — full lifecycle, GC, reconcile and relay delivery — run on every adapter
 * combination on real servers. The observable results must be identical.
 */
@DisplayName("swapping adapters changes nothing observable")
class SwapAdaptersTest {

  @RegisterExtension static final PostgresExtension PG = new PostgresExtension();
  @RegisterExtension static final S3Extension S3 = new S3Extension();
  @RegisterExtension static final ValkeyExtension VALKEY = new ValkeyExtension();
  private static final SiteId SITE = SiteId.of("swap-site");
  private static int schemas;

  @TempDir Path dir;

  record Adapters(
      String name, Function<MutableClock, Store> store, Function<Path, BlobStore> blobs) {
    @Override
    public String toString() {
      return name;
    }
  }

  static Stream<Arguments> combinations() {
    return Stream.of(
        Arguments.of(
            new Adapters(
                "memory + filesystem + executor",
                InMemoryStore::new,
                root -> new dev.durabledeploy.core.blob.FileSystemBlobStore(root))),
        Arguments.of(
            new Adapters(
                "postgres + s3 + executor",
                SwapAdaptersTest::postgres,
                root ->
                    S3BlobStore.builder()
                        .bucket(S3.newBucket())
                        .endpoint(S3.endpoint())
                        .region(S3.region())
                        .pathStyle(true)
                        .credentials(
                            StaticCredentialsProvider.create(
                                AwsBasicCredentials.create(S3.accessKey(), S3.secretKey())))
                        .build())),
        Arguments.of(
            new Adapters(
                "postgres (metadata, outbox) + valkey (locks, leases, cache) + filesystem + executor",
                SwapAdaptersTest::postgresWithValkey,
                root -> new dev.durabledeploy.core.blob.FileSystemBlobStore(root))),
        Arguments.of(
            new Adapters(
                "valkey (everything) + filesystem + executor",
                clock ->
                    ValkeyStore.builder()
                        .uri(VALKEY.uri().toString())
                        .namespace(ValkeyExtension.newNamespace())
                        .clock(clock)
                        .build(),
                root -> new dev.durabledeploy.core.blob.FileSystemBlobStore(root))));
  }

  /**
   * The wiring for hosts that run both: durable state and its outbox in PostgreSQL, coordination
   * and a cross-host metadata cache in Valkey.
   */
  private static Store postgresWithValkey(MutableClock clock) {
    PostgresStore pg = postgres(clock);
    ValkeyStore valkey =
        ValkeyStore.builder()
            .uri(VALKEY.uri().toString())
            .namespace(ValkeyExtension.newNamespace())
            .clock(clock)
            .build();
    return Store.of(
        valkey.cached(pg.metadata()),
        pg.outbox(),
        valkey.siteLocks(),
        valkey.jobLeases(),
        valkey,
        pg);
  }

  private static PostgresStore postgres(MutableClock clock) {
    return PostgresStore.builder()
        .jdbcUrl(PG.jdbcUrl())
        .username(PG.username())
        .password(PG.password())
        .schema("swap_" + (++schemas))
        .clock(clock)
        .migrateOnStart(true)
        .build();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("combinations")
  void scenario(Adapters adapters) throws Exception {
    Map<String, Object> observed = run(adapters);
    assertThat(observed).isEqualTo(expected());
    assertThat(observed)
        .containsEntry("trashed by gc", List.of(0, 1, 2))
        .containsEntry("live", List.of(3))
        .containsEntry("aliases", List.of("production@6->3"))
        .containsEntry("trash", 3)
        .containsEntry("projection version", 6L);
    assertThat((Map<?, ?>) observed.get("drift")).isEmpty();
  }

  private static Map<String, Object> expectedCache;

  private synchronized Map<String, Object> expected() throws Exception {
    if (expectedCache == null) {
      expectedCache = run((Adapters) combinations().findFirst().orElseThrow().get()[0]);
    }
    return expectedCache;
  }

  private Map<String, Object> run(Adapters adapters) throws Exception {
    MutableClock clock = new MutableClock();
    Store store = adapters.store().apply(clock);
    BlobStore blobs = adapters.blobs().apply(dir.resolve("blobs-" + System.nanoTime()));
    Map<String, Object> observed = new LinkedHashMap<>();
    try (DurableDeploy plane =
        DurableDeploy.builder()
            .store(store)
            .blobStore(blobs)
            .engine(ExecutorEngine.builder().clock(clock).build())
            .clock(clock)
            .options(DeployOptions.builder().keepLatest(1).build())
            .build()
            .start()) {
      List<Deploy> deploys =
          Releases.toProduction(
              plane,
              SITE,
              clock,
              java.util.stream.IntStream.range(0, 4)
                  .mapToObj(i -> String.format("%07x", i + 1) + "abc")
                  .toList());
      plane.deploys().rollback(SITE, AliasName.PRODUCTION);
      plane
          .deploys()
          .promote(SITE, deploys.get(3).id(), AliasName.PRODUCTION, AliasExpectation.version(5));
      plane.deploys().delete(SITE, deploys.get(0).id());
      plane.deploys().restore(SITE, deploys.get(0).id());
      clock.advance(Duration.ofDays(10));
      GcReport gc = plane.gc().run(SITE, false);
      DriftReport drift = plane.reconciler().reconcile(SITE, false);
      await().atMost(Duration.ofSeconds(30)).until(() -> projectedVersion(blobs) == 6);

      observed.put(
          "trashed by gc",
          gc.trashed().stream().map(id -> deploys.indexOf(find(deploys, id))).toList());
      observed.put(
          "live",
          plane.deploys().deploys(SITE).stream()
              .map(d -> deploys.indexOf(find(deploys, d.id())))
              .toList());
      observed.put(
          "aliases",
          plane.deploys().aliases(SITE).stream()
              .map(
                  a ->
                      a.name()
                          + "@"
                          + a.version()
                          + "->"
                          + deploys.indexOf(find(deploys, a.target())))
              .toList());
      observed.put("trash", plane.deploys().trash(SITE).size());
      observed.put("drift", drift.counts());
      observed.put("projection version", projectedVersion(blobs));
      await().atMost(Duration.ofSeconds(30)).until(() -> store.outbox().stats().undelivered() == 0);
      observed.put("outbox drained", true);
    } finally {
      blobs.close();
      store.close();
    }
    return observed;
  }

  /**
   * The immutability reproduction on real servers: a re-upload of index.html and an upload of a new
   * file, each blocked inside its write while finalize runs. Both must fail with
   * DeployStateException and leave the verified deploy as finalize saw it; finalize with a manifest
   * of sizes and SHA-256s verifies against what each store recorded at upload.
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("combinations")
  @DisplayName("an upload that overlaps finalize fails and leaves the verified bytes as they were")
  void uploadsRacingFinalize(Adapters adapters) throws Exception {
    MutableClock clock = new MutableClock();
    Store store = adapters.store().apply(clock);
    BlobStore blobs = adapters.blobs().apply(dir.resolve("race-" + System.nanoTime()));
    java.util.concurrent.ExecutorService pool =
        java.util.concurrent.Executors.newCachedThreadPool();
    try (DurableDeploy plane =
        DurableDeploy.builder()
            .store(store)
            .blobStore(blobs)
            .engine(ExecutorEngine.builder().clock(clock).build())
            .clock(clock)
            .build()
            .start()) {
      var deploys = plane.deploys();
      Deploy d = deploys.init(SITE, null);
      upload(deploys, d, "index.html", "v1");
      upload(deploys, d, "app.js", "let v = 1");

      GatedInputStream replacement = new GatedInputStream(bytes("v2"));
      var replace =
          pool.submit(
              () -> deploys.upload(SITE, d.id(), UploadPath.of("index.html"), replacement, 2));
      replacement.awaitReading(Duration.ofSeconds(30));
      GatedInputStream late = new GatedInputStream(bytes("late"));
      var create =
          pool.submit(() -> deploys.upload(SITE, d.id(), UploadPath.of("late.js"), late, 4));
      late.awaitReading(Duration.ofSeconds(30));

      Manifest manifest =
          Manifest.ofEntries(
              Manifest.Entry.of("index.html", 2, sha256("v1")),
              Manifest.Entry.of("app.js", 9, sha256("let v = 1")));
      var finalized =
          pool.submit(() -> deploys.finalizeDeploy(SITE, d.id(), AliasName.PRODUCTION, manifest))
              .get(60, java.util.concurrent.TimeUnit.SECONDS);
      assertThat(finalized.deploy().isActive()).isTrue();
      replacement.open();
      late.open();

      for (var upload : List.of(replace, create)) {
        assertThatThrownBy(() -> upload.get(60, java.util.concurrent.TimeUnit.SECONDS))
            .hasCauseInstanceOf(DeployStateException.class);
      }
      assertThat(read(blobs, d, "index.html")).isEqualTo("v1");
      assertThat(blobs.stat(BlobLayout.deploy(SITE, d.id()).resolve("late.js"))).isEmpty();
      assertThat(plane.reconciler().reconcile(SITE, false).isClean()).isTrue();
    } finally {
      pool.shutdownNow();
      blobs.close();
      store.close();
    }
  }

  private static byte[] bytes(String s) {
    return s.getBytes(java.nio.charset.StandardCharsets.UTF_8);
  }

  private static String sha256(String s) throws Exception {
    return java.util.HexFormat.of()
        .formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(bytes(s)));
  }

  private static void upload(
      dev.durabledeploy.core.deploy.DeployService deploys, Deploy d, String path, String text) {
    byte[] b = bytes(text);
    deploys.upload(
        SITE, d.id(), UploadPath.of(path), new java.io.ByteArrayInputStream(b), b.length);
  }

  private static String read(BlobStore blobs, Deploy d, String path) {
    try (var c = blobs.get(BlobLayout.deploy(SITE, d.id()).resolve(path)).orElseThrow()) {
      return new String(c.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    }
  }

  private static Deploy find(List<Deploy> deploys, dev.durabledeploy.spi.DeployId id) {
    return deploys.stream().filter(d -> d.id().equals(id)).findFirst().orElseThrow();
  }

  private static long projectedVersion(BlobStore blobs) {
    String version = Releases.projected(blobs, SITE, "version");
    return version.isEmpty() ? 0 : Long.parseLong(version);
  }
}
