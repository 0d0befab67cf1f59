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
import dev.durabledeploy.spi.exception.DeployNotFoundException;
import dev.durabledeploy.spi.exception.DeployStateException;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.spi.retry.RetryPolicy;
import dev.durabledeploy.store.memory.InMemoryWorkflowEngine;
import dev.durabledeploy.testkit.GatedInputStream;
import dev.durabledeploy.testkit.MutableClock;
import dev.durabledeploy.testkit.fixtures.PostgresExtension;
import dev.durabledeploy.testkit.fixtures.S3Extension;
import java.io.ByteArrayInputStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The new settle path decides an ACTIVE deploy without the site lock and waits for a finalize with
 * backoff, so other sagas can run between the finalize and the settle. Here a finalized deploy is
 * superseded and deleted before the late upload settles: the delete moves the unverified file to
 * trash with the rest, the upload finds the deploy gone and "withdraws" the live key (already
 * moved), and a restore brings the unverified file back into the finalized deploy.
 */
class UploadSettleAfterDeleteHostileTest {

  @RegisterExtension static final S3Extension S3 = new S3Extension();
  @RegisterExtension static final PostgresExtension PG = new PostgresExtension();
  static final SiteId SITE = SiteId.of("hostile-settle-trash");
  static final Duration WAIT = Duration.ofSeconds(30);

  @TempDir Path dir;
  final MutableClock clock = new MutableClock();
  final ExecutorService pool = Executors.newCachedThreadPool();
  DurableDeploy plane;
  Store store;
  BlobStore raw;

  static Stream<Arguments> stores() {
    return Stream.of(
        Arguments.of(Metadata.memory(), Blobs.memory()),
        Arguments.of(Metadata.postgres(PG), Blobs.s3(S3)));
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

  @ParameterizedTest(name = "{0} + {1}")
  @MethodSource("stores")
  @DisplayName(
      "a late file of a deploy deleted before the upload settled does not come back with a"
          + " restore")
  void lateFileDoesNotComeBackWithARestore(Metadata.Kind meta, Blobs.Kind kind) throws Exception {
    raw = kind.create(dir, clock);
    HookedBlobStore blobs = new HookedBlobStore(raw);
    store = meta.create(clock);
    plane =
        DurableDeploy.builder()
            .store(store)
            .blobStore(blobs)
            .engine(new InMemoryWorkflowEngine())
            .clock(clock)
            .random(new SplittableRandom(5))
            .sleeper(d -> {})
            .retryPolicy(
                RetryPolicy.defaults().withBackoff(Duration.ofMillis(1), Duration.ofMillis(5), 2.0))
            .options(DeployOptions.builder().lockTimeout(Duration.ofSeconds(20)).build())
            .instanceId("hostile-settle-trash")
            .build();
    DeployService deploys = plane.deploys();
    Deploy d = deploys.init(SITE, null);
    upload(deploys, d, "index.html", "v1");
    BlobKey lateKey = BlobLayout.deploy(SITE, d.id()).resolve("late.js");

    GatedInputStream late = new GatedInputStream(bytes("late"));
    AtomicReference<Thread> uploader = new AtomicReference<>();
    Future<BlobInfo> lateUpload =
        pool.submit(
            () -> {
              uploader.set(Thread.currentThread());
              return deploys.upload(SITE, d.id(), UploadPath.of("late.js"), late, 4);
            });
    late.awaitReading(WAIT);
    // The settle, once it sees the deploy ACTIVE, pauses before it reads the marker: the time
    // another host needs to finalize the next deploy and delete this one (its backoff pause, a GC
    // pause, a slow marker read).
    Gate settle = new Gate();
    blobs.before(
        HookedBlobStore.Op.GET,
        k ->
            k.equals(BlobLayout.marker(SITE, d.id()).value())
                && Thread.currentThread() == uploader.get(),
        1,
        settle);
    Gate marker = new Gate();
    blobs.before(HookedBlobStore.Op.PUT, k -> k.endsWith(BlobLayout.MARKER_NAME), 1, marker);
    Future<?> finalize =
        pool.submit(
            () ->
                deploys.finalizeDeploy(
                    SITE, d.id(), AliasName.PRODUCTION, Manifest.of("index.html")));
    marker.awaitArrival(WAIT); // sealed and listed: late.js is not part of it
    late.open();
    await("the late write landed").atMost(WAIT).until(() -> raw.stat(lateKey).isPresent());
    marker.open();
    finalize.get(WAIT.toSeconds(), TimeUnit.SECONDS);
    settle.awaitArrival(WAIT);

    // Meanwhile: the next deploy goes live and the previous one is deleted.
    Deploy next = deploys.init(SITE, null);
    upload(deploys, next, "index.html", "v2");
    deploys.finalizeDeploy(SITE, next.id(), AliasName.PRODUCTION, Manifest.of("index.html"));
    deploys.delete(SITE, d.id());
    settle.open();
    Throwable failure;
    try {
      failure = new AssertionError("the upload succeeded: " + lateUpload.get(30, TimeUnit.SECONDS));
    } catch (ExecutionException e) {
      failure = e.getCause();
    }
    assertThat(failure).isInstanceOf(DeployNotFoundException.class);

    // The deploy is restored: it must hold exactly what its finalize verified.
    deploys.restore(SITE, d.id());
    var drift = plane.reconciler().reconcile(SITE, false);
    assertThat(Blobs.served(raw, SITE, d.id(), "late.js"))
        .as("unverified file back in the finalized deploy; drift %s", drift.drifts())
        .isEmpty();
    assertThat(drift.counts()).doesNotContainKey(DriftKind.FILE_ADDED_AFTER_FINALIZE);
  }

  @ParameterizedTest(name = "{0} + {1}")
  @MethodSource("stores")
  @DisplayName(
      "a late file of a deploy deleted while the upload withdraws it from the ACTIVE deploy does"
          + " not come back with a restore")
  void lateFileWithdrawnWhileTheDeployIsDeleted(Metadata.Kind meta, Blobs.Kind kind)
      throws Exception {
    raw = kind.create(dir, clock);
    HookedBlobStore blobs = new HookedBlobStore(raw);
    store = meta.create(clock);
    plane =
        DurableDeploy.builder()
            .store(store)
            .blobStore(blobs)
            .engine(new InMemoryWorkflowEngine())
            .clock(clock)
            .random(new SplittableRandom(6))
            .sleeper(d -> {})
            .retryPolicy(
                RetryPolicy.defaults().withBackoff(Duration.ofMillis(1), Duration.ofMillis(5), 2.0))
            .options(DeployOptions.builder().lockTimeout(Duration.ofSeconds(20)).build())
            .instanceId("hostile-settle-trash")
            .build();
    DeployService deploys = plane.deploys();
    Deploy d = deploys.init(SITE, null);
    upload(deploys, d, "index.html", "v1");
    BlobKey lateKey = BlobLayout.deploy(SITE, d.id()).resolve("late.js");

    GatedInputStream late = new GatedInputStream(bytes("late"));
    AtomicReference<Thread> uploader = new AtomicReference<>();
    Future<BlobInfo> lateUpload =
        pool.submit(
            () -> {
              uploader.set(Thread.currentThread());
              return deploys.upload(SITE, d.id(), UploadPath.of("late.js"), late, 4);
            });
    late.awaitReading(WAIT);
    // Right after the settle read the ACTIVE deploy's marker (which does not list late.js) and
    // before it deletes the file: the next deploy goes live and this one is deleted, its bytes,
    // late.js among them, moved to trash. No lock is held by the settle of an ACTIVE deploy.
    blobs.after(
        HookedBlobStore.Op.GET,
        k ->
            k.equals(BlobLayout.marker(SITE, d.id()).value())
                && Thread.currentThread() == uploader.get(),
        1,
        () -> {
          Deploy next = deploys.init(SITE, null);
          upload(deploys, next, "index.html", "v2");
          deploys.finalizeDeploy(SITE, next.id(), AliasName.PRODUCTION, Manifest.of("index.html"));
          deploys.delete(SITE, d.id());
        });
    Gate marker = new Gate();
    blobs.before(HookedBlobStore.Op.PUT, k -> k.endsWith(BlobLayout.MARKER_NAME), 1, marker);
    Future<?> finalize =
        pool.submit(
            () ->
                deploys.finalizeDeploy(
                    SITE, d.id(), AliasName.PRODUCTION, Manifest.of("index.html")));
    marker.awaitArrival(WAIT); // sealed and listed: late.js is not part of it
    late.open();
    await("the late write landed").atMost(WAIT).until(() -> raw.stat(lateKey).isPresent());
    marker.open();
    finalize.get(WAIT.toSeconds(), TimeUnit.SECONDS);
    Throwable failure;
    try {
      failure = new AssertionError("the upload succeeded: " + lateUpload.get(30, TimeUnit.SECONDS));
    } catch (ExecutionException e) {
      failure = e.getCause();
    }
    assertThat(failure).isInstanceOfAny(DeployNotFoundException.class, DeployStateException.class);

    deploys.restore(SITE, d.id());
    var drift = plane.reconciler().reconcile(SITE, false);
    assertThat(Blobs.served(raw, SITE, d.id(), "late.js"))
        .as("unverified file back in the finalized deploy; drift %s", drift.drifts())
        .isEmpty();
    assertThat(drift.counts()).doesNotContainKey(DriftKind.FILE_ADDED_AFTER_FINALIZE);
  }
}
