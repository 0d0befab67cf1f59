package dev.durabledeploy.examples.hostile;

import static dev.durabledeploy.examples.hostile.Blobs.bytes;
import static org.assertj.core.api.Assertions.assertThat;

import dev.durabledeploy.core.DeployOptions;
import dev.durabledeploy.core.DurableDeploy;
import dev.durabledeploy.core.deploy.BlobLayout;
import dev.durabledeploy.core.deploy.DeployService;
import dev.durabledeploy.core.deploy.Manifest;
import dev.durabledeploy.core.reconcile.DriftKind;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.DeployStateException;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.TransientStoreException;
import dev.durabledeploy.spi.UploadPath;
import dev.durabledeploy.spi.blob.BlobInfo;
import dev.durabledeploy.spi.blob.BlobStore;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.spi.metadata.DeployState;
import dev.durabledeploy.spi.retry.RetryPolicy;
import dev.durabledeploy.testkit.GatedInputStream;
import dev.durabledeploy.testkit.MutableClock;
import dev.durabledeploy.testkit.fixtures.S3Extension;
import dev.durabledeploy.testkit.memory.InMemoryStore;
import dev.durabledeploy.testkit.memory.InMemoryWorkflowEngine;
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
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * README: "an upload that overlaps finalize is either among the files finalize verified or fails
 * with DeployStateException and withdraws what it wrote". These drive the overlap into the paths
 * where the upload does not reach its settle cleanly: the settle waits longer for the site lock
 * than lockTimeout, or the create's answer is lost after the object was stored.
 */
class UploadOverlapsFinalizeHostileTest {

  @RegisterExtension static final S3Extension S3 = new S3Extension();
  static final SiteId SITE = SiteId.of("hostile-overlap");
  static final Duration WAIT = Duration.ofSeconds(30);

  @TempDir Path dir;
  final MutableClock clock = new MutableClock();
  final ExecutorService pool = Executors.newCachedThreadPool();
  DurableDeploy plane;
  BlobStore raw;

  static Stream<Blobs.Kind> stores() {
    return Stream.of(Blobs.memory(), Blobs.filesystem(), Blobs.s3(S3));
  }

  DeployService plane(BlobStore blobs, Duration lockTimeout) {
    plane =
        DurableDeploy.builder()
            .store(new InMemoryStore(clock))
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

  // BREAKS: an upload whose settle waits longer than lockTimeout for the finalize that overlaps
  // it fails with SiteBusyException and leaves its unverified file in the ACTIVE deploy.
  @ParameterizedTest(name = "{0}")
  @MethodSource("stores")
  void settleThatTimesOutOnTheLockStillWithdraws(Blobs.Kind kind) throws Exception {
    raw = kind.create(dir, clock);
    HookedBlobStore blobs = new HookedBlobStore(raw);
    DeployService deploys = plane(blobs, Duration.ofSeconds(1));
    Deploy d = deploys.init(SITE, null);
    upload(deploys, d, "index.html", "v1");

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

    // The upload's write lands now: after the seal and the listing.
    late.open();
    Throwable failure = failureOf(lateUpload);
    marker.open();
    finalize.get(WAIT.toSeconds(), TimeUnit.SECONDS);
    assertThat(deploys.deploy(SITE, d.id()).orElseThrow().state()).isEqualTo(DeployState.ACTIVE);

    // Promised: the upload fails with DeployStateException and withdraws what it wrote, so the
    // finalized deploy holds exactly what finalize verified.
    assertThat(Blobs.served(raw, SITE, d.id(), "late.js"))
        .as("an unverified file served from the ACTIVE deploy (upload failed with %s)", failure)
        .isEmpty();
    assertThat(failure).isInstanceOf(DeployStateException.class);
  }

  // BREAKS: a create whose answer is lost after the object was stored (a reset connection)
  // fails the upload with the transport error and never settles, so the unverified file stays in
  // the deploy that finalize activated meanwhile.
  @ParameterizedTest(name = "{0}")
  @MethodSource("stores")
  void createWhoseAnswerIsLostDuringFinalizeIsWithdrawn(Blobs.Kind kind) throws Exception {
    raw = kind.create(dir, clock);
    HookedBlobStore blobs = new HookedBlobStore(raw);
    DeployService deploys = plane(blobs, Duration.ofSeconds(20));
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
  }
}
