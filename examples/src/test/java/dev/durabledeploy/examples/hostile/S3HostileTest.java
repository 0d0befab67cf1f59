package dev.durabledeploy.examples.hostile;

import static dev.durabledeploy.examples.hostile.Blobs.bytes;
import static dev.durabledeploy.examples.hostile.Blobs.sha256;
import static org.assertj.core.api.Assertions.assertThat;

import dev.durabledeploy.blob.s3.S3BlobStore;
import dev.durabledeploy.core.DeployOptions;
import dev.durabledeploy.core.DurableDeploy;
import dev.durabledeploy.core.deploy.BlobLayout;
import dev.durabledeploy.core.deploy.DeployService;
import dev.durabledeploy.core.deploy.Manifest;
import dev.durabledeploy.core.deploy.UploadConflictException;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.UploadPath;
import dev.durabledeploy.spi.blob.BlobContent;
import dev.durabledeploy.spi.blob.BlobInfo;
import dev.durabledeploy.spi.exception.DeployStateException;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.spi.retry.RetryPolicy;
import dev.durabledeploy.store.memory.InMemoryStore;
import dev.durabledeploy.store.memory.InMemoryWorkflowEngine;
import dev.durabledeploy.testkit.GatedInputStream;
import dev.durabledeploy.testkit.MutableClock;
import dev.durabledeploy.testkit.fixtures.S3Extension;
import java.io.ByteArrayInputStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** S3 as a hostile host meets it: odd key characters, objects stored in parts, two hosts. */
class S3HostileTest {

  @RegisterExtension static final S3Extension S3 = new S3Extension();
  static final SiteId SITE = SiteId.of("hostile-s3");
  static final int MIB = 1024 * 1024;

  final MutableClock clock = new MutableClock();
  final InMemoryStore store = new InMemoryStore(clock);
  final List<DurableDeploy> planes = new ArrayList<>();
  final ExecutorService pool = Executors.newCachedThreadPool();
  final String bucket = S3.newBucket();

  S3BlobStore s3() {
    return Blobs.s3Builder(S3).bucket(bucket).multipart(5L * MIB, 5L * MIB).build();
  }

  DurableDeploy plane(String name) {
    DurableDeploy plane =
        DurableDeploy.builder()
            .store(store)
            .blobStore(s3())
            .engine(new InMemoryWorkflowEngine())
            .clock(clock)
            .random(new SplittableRandom(name.hashCode()))
            .sleeper(d -> {})
            .retryPolicy(
                RetryPolicy.defaults().withBackoff(Duration.ofMillis(1), Duration.ofMillis(5), 2.0))
            .options(DeployOptions.builder().lockTimeout(Duration.ofSeconds(30)).build())
            .instanceId(name)
            .build();
    planes.add(plane);
    return plane;
  }

  @AfterEach
  void close() {
    pool.shutdownNow();
    planes.forEach(
        p -> {
          p.close();
          p.blobs().close();
        });
  }

  static void upload(DeployService deploys, Deploy d, String path, byte[] b) {
    deploys.upload(SITE, d.id(), UploadPath.of(path), new ByteArrayInputStream(b), b.length);
  }

  static byte[] random(int size, long seed) {
    byte[] b = new byte[size];
    new Random(seed).nextBytes(b);
    return b;
  }

  byte[] read(DurableDeploy plane, Deploy d, String path) {
    try (BlobContent c =
        plane.blobs().get(BlobLayout.deploy(SITE, d.id()).resolve(path)).orElseThrow()) {
      return c.readAllBytes();
    }
  }

  @Test
  @DisplayName("odd key characters survive finalize, delete, restore and reconcile")
  void oddKeyCharactersSurviveFinalizeDeleteRestoreAndReconcile() {
    DurableDeploy plane = plane("host-a");
    DeployService deploys = plane.deploys();
    Deploy d = deploys.init(SITE, null);
    List<String> paths =
        List.of(
            "index.html",
            "a+b.js",
            "with space.css",
            "pct%20literal.txt",
            "tilde~and=eq&amp.json",
            "caf\u00e9/\u65e5\u672c.html",
            "emoji-\ud83d\ude00.svg",
            "q?mark#hash.txt");
    List<Manifest.Entry> entries = new ArrayList<>();
    for (String p : paths) {
      byte[] b = bytes("content of " + p);
      upload(deploys, d, p, b);
      entries.add(Manifest.Entry.of(p, b.length, sha256(b)));
    }
    deploys.finalizeDeploy(SITE, d.id(), AliasName.PRODUCTION, Manifest.ofEntries(entries));
    assertThat(plane.reconciler().reconcile(SITE, false).drifts()).isEmpty();
    // A second deploy takes production so the first can be deleted and restored.
    Deploy e = deploys.init(SITE, null);
    upload(deploys, e, "index.html", bytes("e"));
    deploys.finalizeDeploy(SITE, e.id(), AliasName.PRODUCTION, Manifest.of("index.html"));
    deploys.delete(SITE, d.id());
    deploys.restore(SITE, d.id());
    assertThat(plane.reconciler().reconcile(SITE, false).drifts()).isEmpty();
    for (String p : paths) {
      assertThat(new String(read(plane, d, p), java.nio.charset.StandardCharsets.UTF_8))
          .isEqualTo("content of " + p);
    }
  }

  // A deploy finalized with Manifest.of whose file S3 stored in parts has no SHA-256 in its marker,
  // only the ETag; the move to trash and back copies it part by part, so the ETag stays.
  @Test
  @DisplayName("a restored deploy with a file stored in parts is not reported as changed")
  void aRestoredDeployWithAFileInPartsHasNotChanged() {
    DurableDeploy plane = plane("host-a");
    DeployService deploys = plane.deploys();
    Deploy d = deploys.init(SITE, null);
    upload(deploys, d, "index.html", bytes("<h1>big</h1>"));
    byte[] big = random(6 * MIB, 1);
    upload(deploys, d, "video.bin", big);
    deploys.finalizeDeploy(
        SITE, d.id(), AliasName.PRODUCTION, Manifest.of("index.html", "video.bin"));
    assertThat(plane.reconciler().reconcile(SITE, false).drifts()).isEmpty();
    Deploy e = deploys.init(SITE, null);
    upload(deploys, e, "index.html", bytes("e"));
    deploys.finalizeDeploy(SITE, e.id(), AliasName.PRODUCTION, Manifest.of("index.html"));
    deploys.delete(SITE, d.id());
    deploys.restore(SITE, d.id());
    assertThat(Arrays.equals(read(plane, d, "video.bin"), big)).isTrue();
    assertThat(plane.reconciler().reconcile(SITE, false).drifts())
        .as("the bytes are identical")
        .isEmpty();
  }

  // Once broken: sizes compared as boxed Longs by reference failed every move over 127 bytes.
  @Test
  @DisplayName("GC and restore move objects over 127 bytes on S3")
  void movesOnS3OfObjectsOver127Bytes() {
    DurableDeploy plane = plane("host-a");
    DeployService deploys = plane.deploys();
    List<Deploy> five = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      Deploy d = deploys.init(SITE, null);
      upload(deploys, d, "index.html", bytes("<h1>" + i + "</h1>"));
      deploys.finalizeDeploy(SITE, d.id(), AliasName.PRODUCTION, Manifest.of("index.html"));
      five.add(d);
      clock.advance(Duration.ofHours(1));
    }
    clock.advance(Duration.ofDays(10));
    var report = plane.gc().run(SITE, false);
    assertThat(report.trashed()).containsExactly(five.get(0).id(), five.get(1).id());
    assertThat(plane.blobs().listAll(BlobLayout.deploy(SITE, five.get(0).id()))).isEmpty();
    deploys.restore(SITE, five.get(0).id());
    assertThat(plane.reconciler().reconcile(SITE, false).drifts()).isEmpty();
  }

  @Test
  void twoHostsCreateOneLargePathWhileAThirdFinalizes() throws Exception {
    DurableDeploy a = plane("host-a");
    DurableDeploy b = plane("host-b");
    DurableDeploy c = plane("host-c");
    Deploy d = a.deploys().init(SITE, null);
    upload(a.deploys(), d, "index.html", bytes("<h1>race</h1>"));
    byte[] fromA = random(6 * MIB, 2);
    byte[] fromB = random(6 * MIB, 3);
    GatedInputStream bodyA = new GatedInputStream(fromA);
    GatedInputStream bodyB = new GatedInputStream(fromB);
    Future<BlobInfo> upA =
        pool.submit(
            () -> a.deploys().upload(SITE, d.id(), UploadPath.of("big.bin"), bodyA, fromA.length));
    Future<BlobInfo> upB =
        pool.submit(
            () -> b.deploys().upload(SITE, d.id(), UploadPath.of("big.bin"), bodyB, fromB.length));
    bodyA.awaitReading(Duration.ofSeconds(30));
    bodyB.awaitReading(Duration.ofSeconds(30));
    bodyB.open();
    upB.get(60, TimeUnit.SECONDS); // B's multipart create completes first
    var finalized =
        c.deploys()
            .finalizeDeploy(
                SITE,
                d.id(),
                AliasName.PRODUCTION,
                Manifest.ofEntries(
                    Manifest.Entry.of("index.html", 13, sha256(bytes("<h1>race</h1>"))),
                    Manifest.Entry.of("big.bin", fromB.length, sha256(fromB))));
    assertThat(finalized.deploy().isActive()).isTrue();
    bodyA.open();
    try {
      BlobInfo info = upA.get(60, TimeUnit.SECONDS);
      throw new AssertionError("A's create of a taken path succeeded: " + info);
    } catch (ExecutionException e) {
      assertThat(e.getCause())
          .isInstanceOfAny(UploadConflictException.class, DeployStateException.class);
    }
    assertThat(Arrays.equals(read(c, d, "big.bin"), fromB)).isTrue();
    assertThat(c.reconciler().reconcile(SITE, false).drifts()).isEmpty();
  }
}
