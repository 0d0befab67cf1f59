package dev.durabledeploy.examples.hostile;

import static dev.durabledeploy.examples.hostile.Blobs.bytes;
import static dev.durabledeploy.examples.hostile.Blobs.sha256;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.durabledeploy.core.DeployOptions;
import dev.durabledeploy.core.DurableDeploy;
import dev.durabledeploy.core.deploy.BlobLayout;
import dev.durabledeploy.core.deploy.DeployService;
import dev.durabledeploy.core.deploy.Manifest;
import dev.durabledeploy.core.deploy.ManifestMismatchException;
import dev.durabledeploy.core.deploy.Marker;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.UploadPath;
import dev.durabledeploy.spi.blob.BlobContent;
import dev.durabledeploy.spi.blob.BlobStore;
import dev.durabledeploy.spi.exception.AliasDriftException;
import dev.durabledeploy.spi.exception.InvalidInputException;
import dev.durabledeploy.spi.metadata.AliasExpectation;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.spi.metadata.DeployState;
import dev.durabledeploy.spi.retry.RetryPolicy;
import dev.durabledeploy.store.memory.InMemoryStore;
import dev.durabledeploy.store.memory.InMemoryWorkflowEngine;
import dev.durabledeploy.testkit.MutableClock;
import dev.durabledeploy.testkit.fixtures.S3Extension;
import java.io.ByteArrayInputStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Manifests as a hostile client writes them: wrong sizes and digests, odd case, the maximum. */
class ManifestHostileTest {

  @RegisterExtension static final S3Extension S3 = new S3Extension();
  static final SiteId SITE = SiteId.of("hostile-manifest");

  @TempDir Path dir;
  final MutableClock clock = new MutableClock();
  final ExecutorService pool = Executors.newFixedThreadPool(8);
  final List<DurableDeploy> planes = new ArrayList<>();
  InMemoryStore store;
  BlobStore blobs;

  static Stream<Arguments> stores() {
    return Stream.of(
        Arguments.of(Blobs.memory(), 20_000),
        Arguments.of(Blobs.filesystem(), 20_000),
        Arguments.of(Blobs.s3(S3), 600));
  }

  DeployService plane(String name) {
    DurableDeploy plane =
        DurableDeploy.builder()
            .store(store)
            .blobStore(blobs)
            .engine(new InMemoryWorkflowEngine())
            .clock(clock)
            .random(new SplittableRandom(name.hashCode()))
            .sleeper(d -> {})
            .retryPolicy(
                RetryPolicy.defaults().withBackoff(Duration.ofMillis(1), Duration.ofMillis(5), 2.0))
            .options(DeployOptions.builder().lockTimeout(Duration.ofSeconds(60)).build())
            .instanceId(name)
            .build();
    planes.add(plane);
    return plane.deploys();
  }

  @AfterEach
  void close() {
    pool.shutdownNow();
    planes.forEach(DurableDeploy::close);
    if (blobs != null) {
      blobs.close();
    }
  }

  static String path(int i) {
    return i == 0 ? "index.html" : "assets/f" + i + ".js";
  }

  static byte[] content(int i) {
    return bytes("file " + i);
  }

  void upload(DeployService deploys, Deploy d, String path, byte[] b) {
    deploys.upload(SITE, d.id(), UploadPath.of(path), new ByteArrayInputStream(b), b.length);
  }

  void uploadAll(DeployService deploys, Deploy d, int n) throws Exception {
    List<Future<?>> uploads = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      int file = i;
      uploads.add(pool.submit(() -> upload(deploys, d, path(file), content(file))));
    }
    for (Future<?> f : uploads) {
      f.get();
    }
  }

  Marker marker(Deploy d) {
    try (BlobContent c = blobs.get(BlobLayout.marker(SITE, d.id())).orElseThrow()) {
      return Marker.parse(c.readAllBytes());
    }
  }

  @ParameterizedTest(name = "{0}, {1} files")
  @MethodSource("stores")
  void theMaximumManifestWithUppercaseDigestsAndTwoLies(Blobs.Kind kind, int n) throws Exception {
    store = new InMemoryStore(clock);
    blobs = kind.create(dir, clock);
    DeployService deploys = plane("host-a");
    Deploy d = deploys.init(SITE, null);
    uploadAll(deploys, d, n);

    // Declared in upper case with stray whitespace; entry 1 declares other bytes of another size
    // (what the client built), entry 2 the digest of entry 3's bytes.
    List<Manifest.Entry> entries = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      long size = content(i).length + (i == 1 ? 1 : 0);
      byte[] declared = i == 1 ? bytes("file 1+") : content(i == 2 ? 3 : i);
      String digest = sha256(declared).toUpperCase(Locale.ROOT);
      entries.add(Manifest.Entry.of(path(i), size, " " + digest + "\n"));
    }
    Manifest lying = Manifest.ofEntries(entries);
    long started = System.nanoTime();
    assertThatThrownBy(() -> deploys.finalizeDeploy(SITE, d.id(), AliasName.PRODUCTION, lying))
        .isInstanceOfSatisfying(
            ManifestMismatchException.class,
            e -> {
              assertThat(e.mismatchCount()).isEqualTo(2);
              assertThat(e.mismatches())
                  .extracting(ManifestMismatchException.Mismatch::path)
                  .containsExactlyInAnyOrder(path(1), path(2));
            });
    assertThat(deploys.deploy(SITE, d.id()).orElseThrow().state()).isEqualTo(DeployState.PENDING);

    // The client fixes the two files (re-uploads: replacements under the lock) and finalizes.
    upload(deploys, d, path(1), bytes("file 1+"));
    upload(deploys, d, path(2), content(3));
    var finalized = deploys.finalizeDeploy(SITE, d.id(), AliasName.PRODUCTION, lying);
    long took = Duration.ofNanos(System.nanoTime() - started).toMillis();
    assertThat(finalized.deploy().isActive()).isTrue();
    Marker marker = marker(d);
    assertThat(marker.verified()).hasSize(n);
    assertThat(marker.verified().get(path(2)).sha256()).isEqualTo(sha256(content(3)));
    assertThat(planes.get(0).reconciler().reconcile(SITE, false).isClean()).isTrue();
    System.out.println(kind + ": two finalizes of " + n + " entries took " + took + " ms");

    // One more file than the maximum is refused, as a manifest and as an upload.
    if (n == 20_000) {
      Deploy e = deploys.init(SITE, null);
      List<UploadPath> tooMany =
          IntStream.range(0, n + 1).mapToObj(i -> UploadPath.of(path(i))).toList();
      assertThatThrownBy(
              () -> deploys.finalizeDeploy(SITE, e.id(), AliasName.PREVIEW, Manifest.of(tooMany)))
          .isInstanceOf(InvalidInputException.class)
          .hasMessageContaining("20000");
    }
  }

  @Test
  void duplicateAndMalformedEntriesAreRefusedNamingTheManifest() {
    assertThatThrownBy(
            () ->
                Manifest.ofEntries(
                    Manifest.Entry.of("index.html", 1, sha256(bytes("a"))),
                    Manifest.Entry.of("index.html", 1, sha256(bytes("a")))))
        .isInstanceOfSatisfying(
            InvalidInputException.class, e -> assertThat(e.field()).isEqualTo("manifest"));
    // NFC and NFD spellings of one path are one path: declaring both is a duplicate.
    assertThatThrownBy(
            () ->
                Manifest.ofEntries(
                    Manifest.Entry.of("caf\u00e9.html", 1, sha256(bytes("a"))),
                    Manifest.Entry.of("cafe\u0301.html", 1, sha256(bytes("a")))))
        .isInstanceOf(InvalidInputException.class);
    for (String bad : List.of("", "abc", "g".repeat(64), sha256(bytes("a")) + "0")) {
      assertThatThrownBy(() -> Manifest.Entry.of("index.html", 1, bad))
          .as(bad)
          .isInstanceOf(InvalidInputException.class);
    }
    assertThatThrownBy(() -> Manifest.Entry.of("index.html", -1, sha256(bytes("a"))))
        .isInstanceOf(InvalidInputException.class);
  }

  @Test
  @DisplayName(
      "a finalize refused by the alias CAS leaves no marker a later host could count as a file")
  void aStaleMarkerIsNotCountedAsAFile() {
    store = new InMemoryStore(clock);
    blobs = Blobs.memory().create(dir, clock);
    DeployService a = plane("host-a");
    DeployService b =
        DurableDeploy.builder()
            .store(store)
            .blobStore(blobs)
            .engine(new InMemoryWorkflowEngine())
            .clock(clock)
            .options(DeployOptions.builder().maxFilesPerDeploy(3).build())
            .instanceId("host-b")
            .build()
            .deploys();
    DeployService small =
        DurableDeploy.builder()
            .store(store)
            .blobStore(blobs)
            .engine(new InMemoryWorkflowEngine())
            .clock(clock)
            .options(DeployOptions.builder().maxFilesPerDeploy(3).build())
            .instanceId("host-a2")
            .build()
            .deploys();
    Deploy d = small.init(SITE, null);
    upload(small, d, "index.html", bytes("i"));
    upload(small, d, "a.js", bytes("a"));
    // The CAS fails after the marker was written; the deploy is pending again.
    assertThatThrownBy(
            () ->
                small.finalizeDeploy(
                    SITE,
                    d.id(),
                    AliasName.PRODUCTION,
                    Manifest.of("index.html", "a.js"),
                    AliasExpectation.version(7)))
        .isInstanceOf(AliasDriftException.class);
    assertThat(small.deploy(SITE, d.id()).orElseThrow().state()).isEqualTo(DeployState.PENDING);
    assertThat(blobs.stat(BlobLayout.marker(SITE, d.id()))).isEmpty();
    assertThat(a).isNotNull();
    // Host B has never seen the deploy: 2 files of 3 allowed, so a third must be accepted.
    upload(b, d, "b.js", bytes("b"));
    assertThat(
            small
                .finalizeDeploy(
                    SITE, d.id(), AliasName.PRODUCTION, Manifest.of("index.html", "a.js", "b.js"))
                .deploy()
                .isActive())
        .isTrue();
  }

  @Test
  @DisplayName(
      "the files limit holds across hosts: uploads count per host, finalize counts the deploy and"
          + " refuses it")
  void theFilesLimitHoldsAcrossHosts() {
    store = new InMemoryStore(clock);
    blobs = Blobs.memory().create(dir, clock);
    DeployService[] hosts = new DeployService[2];
    for (int i = 0; i < 2; i++) {
      DurableDeploy plane =
          DurableDeploy.builder()
              .store(store)
              .blobStore(blobs)
              .engine(new InMemoryWorkflowEngine())
              .clock(clock)
              .options(DeployOptions.builder().maxFilesPerDeploy(3).build())
              .instanceId("limit-" + i)
              .build();
      planes.add(plane);
      hosts[i] = plane.deploys();
    }
    Deploy d = hosts[0].init(SITE, null);
    upload(hosts[0], d, "index.html", bytes("i"));
    upload(hosts[1], d, "b1.js", bytes("b1")); // B has seen the deploy now
    upload(hosts[0], d, "a1.js", bytes("a1"));
    int refused = 0;
    for (String p : List.of("b2.js", "b3.js", "a2.js", "a3.js")) {
      try {
        upload(p.startsWith("a") ? hosts[0] : hosts[1], d, p, bytes(p));
      } catch (InvalidInputException limit) {
        refused++;
      }
    }
    // Each host refuses past the three it has seen; together they stored five.
    int stored = blobs.listAll(BlobLayout.deploy(SITE, d.id())).size();
    assertThat(stored)
        .as("files stored (%s refused by the hosts' own counts)", refused)
        .isEqualTo(5);
    for (DeployService host : hosts) {
      assertThatThrownBy(
              () ->
                  host.finalizeDeploy(
                      SITE, d.id(), AliasName.PRODUCTION, Manifest.of("index.html")))
          .isInstanceOfSatisfying(
              InvalidInputException.class,
              e -> {
                assertThat(e.field()).isEqualTo("files");
                assertThat(e.getMessage()).contains("holds 5 files").contains("maximum of 3");
              });
    }
    assertThat(hosts[0].deploy(SITE, d.id()).orElseThrow().state()).isEqualTo(DeployState.PENDING);
    assertThat(blobs.stat(BlobLayout.marker(SITE, d.id()))).isEmpty();
    assertThat(hosts[0].aliases(SITE)).isEmpty();
  }
}
