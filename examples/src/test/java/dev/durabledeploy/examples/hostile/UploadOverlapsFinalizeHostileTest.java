package dev.durabledeploy.examples.hostile;

import static dev.durabledeploy.examples.hostile.Blobs.bytes;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.durabledeploy.core.DeployOptions;
import dev.durabledeploy.core.DurableDeploy;
import dev.durabledeploy.core.deploy.BlobLayout;
import dev.durabledeploy.core.deploy.DeployService;
import dev.durabledeploy.core.deploy.Manifest;
import dev.durabledeploy.core.reconcile.DriftKind;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.Store;
import dev.durabledeploy.spi.UploadPath;
import dev.durabledeploy.spi.blob.BlobInfo;
import dev.durabledeploy.spi.blob.BlobKey;
import dev.durabledeploy.spi.blob.BlobStore;
import dev.durabledeploy.spi.exception.DeployStateException;
import dev.durabledeploy.spi.exception.TransientStoreException;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.spi.metadata.DeployState;
import dev.durabledeploy.spi.retry.RetryPolicy;
import dev.durabledeploy.store.memory.InMemoryWorkflowEngine;
import dev.durabledeploy.testkit.GatedInputStream;
import dev.durabledeploy.testkit.MutableClock;
import dev.durabledeploy.testkit.fixtures.PostgresExtension;
import dev.durabledeploy.testkit.fixtures.S3Extension;
import dev.durabledeploy.testkit.fixtures.ValkeyExtension;
import java.io.ByteArrayInputStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * README: "an upload that overlaps finalize is either among the files finalize verified or fails
 * with DeployStateException and withdraws what it wrote". These drive the overlap into the paths
 * where the upload does not reach its settle cleanly: the finalize holds the site lock for longer
 * than lockTimeout, or the create's answer is lost after the object was stored. Every metadata
 * store with every blob store.
 */
class UploadOverlapsFinalizeHostileTest {

  @RegisterExtension static final S3Extension S3 = new S3Extension();
  @RegisterExtension static final PostgresExtension PG = new PostgresExtension();
  @RegisterExtension static final ValkeyExtension VALKEY = new ValkeyExtension();
  static final SiteId SITE = SiteId.of("hostile-overlap");
  static final Duration WAIT = Duration.ofSeconds(30);

  @TempDir Path dir;
  final MutableClock clock = new MutableClock();
  final ExecutorService pool = Executors.newCachedThreadPool();
  DurableDeploy plane;
  Store store;
  BlobStore raw;

  static Stream<Arguments> stores() {
    return Stream.of(Metadata.memory(), Metadata.postgres(PG), Metadata.valkey(VALKEY))
        .flatMap(
            meta ->
                Stream.of(Blobs.memory(), Blobs.filesystem(), Blobs.s3(S3))
                    .map(blobs -> Arguments.of(meta, blobs)));
  }

  DeployService plane(Metadata.Kind meta, BlobStore blobs, Duration lockTimeout) {
    store = meta.create(clock);
    plane =
        DurableDeploy.builder()
            .store(store)
            .blobStore(blobs)
            .engine(new InMemoryWorkflowEngine())
            .clock(clock)
            .random(new SplittableRandom(3))
            .sleeper(d -> {})
            .retryPolicy(
                RetryPolicy.defaults().withBackoff(Duration.ofMillis(1), Duration.ofMillis(5), 2.0))
            .options(DeployOptions.builder().lockTimeout(lockTimeout).build())
            .instanceId("hostile-overlap")
            .build();
    return plane.deploys();
  }

  @AfterEach
  void close() {
    pool.shutdownNow();
    if (plane != null) {
      plane.close();
    }
    if (store != null) {
      store.close();
    }
    if (raw != null) {
      raw.close();
    }
  }

  void upload(DeployService deploys, Deploy d, String path, String content) {
    byte[] b = bytes(content);
    deploys.upload(SITE, d.id(), UploadPath.of(path), new ByteArrayInputStream(b), b.length);
  }

  static Throwable failureOf(Future<?> f) throws Exception {
    try {
      Object ok = f.get(WAIT.toSeconds(), TimeUnit.SECONDS);
      return new AssertionError("the upload succeeded: " + ok);
    } catch (ExecutionException e) {
      return e.getCause();
    }
  }

  @ParameterizedTest(name = "{0} + {1}")
  @MethodSource("stores")
  @DisplayName(
      "an upload that lands while finalize holds the lock longer than lockTimeout waits for it,"
          + " then withdraws its file")
  void settleThatOutlastsTheLockTimeoutStillWithdraws(Metadata.Kind meta, Blobs.Kind kind)
      throws Exception {
    raw = kind.create(dir, clock);
    HookedBlobStore blobs = new HookedBlobStore(raw);
    Duration lockTimeout = Duration.ofSeconds(1);
    DeployService deploys = plane(meta, blobs, lockTimeout);
    Deploy d = deploys.init(SITE, null);
    upload(deploys, d, "index.html", "v1");
    BlobKey lateKey = BlobLayout.deploy(SITE, d.id()).resolve("late.js");

    // The new file's body blocks inside its (lock-free) create.
    GatedInputStream late = new GatedInputStream(bytes("late"));
    Future<BlobInfo> lateUpload =
        pool.submit(() -> deploys.upload(SITE, d.id(), UploadPath.of("late.js"), late, 4));
    late.awaitReading(WAIT);

    // Finalize seals, lists (late.js is not there yet) and then spends a while writing its
    // marker (a slow store), holding the site lock the whole time, as it must.
    Gate marker = new Gate();
    blobs.before(HookedBlobStore.Op.PUT, k -> k.endsWith(BlobLayout.MARKER_NAME), 1, marker);
    Future<?> finalize =
        pool.submit(
            () ->
                deploys.finalizeDeploy(
                    SITE, d.id(), AliasName.PRODUCTION, Manifest.of("index.html")));
    marker.awaitArrival(WAIT);

    // The upload's write lands now, after the seal and the listing; the upload waits for the
    // finalize, for longer than lockTimeout.
    late.open();
    await("the late write landed").atMost(WAIT).until(() -> raw.stat(lateKey).isPresent());
    await("the upload waits past lockTimeout")
        .during(lockTimeout.plusMillis(500))
        .atMost(lockTimeout.plusSeconds(10))
        .until(() -> !lateUpload.isDone());
    marker.open();
    finalize.get(WAIT.toSeconds(), TimeUnit.SECONDS);
    Throwable failure = failureOf(lateUpload);
    assertThat(deploys.deploy(SITE, d.id()).orElseThrow().state()).isEqualTo(DeployState.ACTIVE);

    // The upload fails with DeployStateException and withdraws what it wrote, so the finalized
    // deploy holds exactly what finalize verified.
    assertThat(Blobs.served(raw, SITE, d.id(), "late.js"))
        .as("an unverified file served from the ACTIVE deploy (upload failed with %s)", failure)
        .isEmpty();
    assertThat(failure)
        .isInstanceOfSatisfying(
            DeployStateException.class, e -> assertThat(e.state()).isEqualTo(DeployState.ACTIVE));
    assertThat(plane.reconciler().reconcile(SITE, false).isClean()).isTrue();
  }

  @ParameterizedTest(name = "{0} + {1}")
  @MethodSource("stores")
  @DisplayName(
      "a create whose answer is lost after the object was stored, while finalize activates the"
          + " deploy without it, is withdrawn")
  void createWhoseAnswerIsLostDuringFinalizeIsWithdrawn(Metadata.Kind meta, Blobs.Kind kind)
      throws Exception {
    raw = kind.create(dir, clock);
    HookedBlobStore blobs = new HookedBlobStore(raw);
    DeployService deploys = plane(meta, blobs, Duration.ofSeconds(20));
    Deploy d = deploys.init(SITE, null);
    upload(deploys, d, "index.html", "v1");

    GatedInputStream late = new GatedInputStream(bytes("late"));
    Gate finalizeDone = new Gate();
    // The object is stored; its answer is lost, after finalize has finished with the deploy.
    blobs.after(
        HookedBlobStore.Op.CREATE,
        k -> k.endsWith("/late.js"),
        1,
        () -> {
          finalizeDone.run();
          throw new TransientStoreException("connection reset after the object was stored");
        });
    Future<BlobInfo> lateUpload =
        pool.submit(() -> deploys.upload(SITE, d.id(), UploadPath.of("late.js"), late, 4));
    late.awaitReading(WAIT);
    Gate marker = new Gate();
    blobs.before(HookedBlobStore.Op.PUT, k -> k.endsWith(BlobLayout.MARKER_NAME), 1, marker);
    Future<?> finalize =
        pool.submit(
            () ->
                deploys.finalizeDeploy(
                    SITE, d.id(), AliasName.PRODUCTION, Manifest.of("index.html")));
    marker.awaitArrival(WAIT); // sealed and listed: late.js is not part of it
    late.open();
    finalizeDone.awaitArrival(WAIT); // late.js is stored now
    marker.open();
    finalize.get(WAIT.toSeconds(), TimeUnit.SECONDS);
    finalizeDone.open();
    Throwable failure = failureOf(lateUpload);

    assertThat(deploys.deploy(SITE, d.id()).orElseThrow().state()).isEqualTo(DeployState.ACTIVE);
    var drift = plane.reconciler().reconcile(SITE, false);
    assertThat(Blobs.served(raw, SITE, d.id(), "late.js"))
        .as(
            "unverified file in the ACTIVE deploy; upload failed with %s; drift %s",
            failure, drift.drifts())
        .isEmpty();
    assertThat(drift.counts()).doesNotContainKey(DriftKind.FILE_ADDED_AFTER_FINALIZE);
    assertThat(failure)
        .isInstanceOfSatisfying(
            DeployStateException.class, e -> assertThat(e.state()).isEqualTo(DeployState.ACTIVE));
    assertThat(failure.getSuppressed())
        .anySatisfy(lost -> assertThat(lost).hasMessageContaining("connection reset"));
  }
}
