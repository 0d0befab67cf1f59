package dev.durabledeploy.examples.hostile;

import static dev.durabledeploy.examples.hostile.Blobs.bytes;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.durabledeploy.core.DeployOptions;
import dev.durabledeploy.core.DurableDeploy;
import dev.durabledeploy.core.deploy.BlobLayout;
import dev.durabledeploy.core.deploy.DeployService;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.Store;
import dev.durabledeploy.spi.UploadPath;
import dev.durabledeploy.spi.blob.BlobInfo;
import dev.durabledeploy.spi.blob.BlobKey;
import dev.durabledeploy.spi.blob.BlobStore;
import dev.durabledeploy.spi.exception.DeployNotFoundException;
import dev.durabledeploy.spi.metadata.Deploy;
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
 * purgeSite records its intent, deletes the site's rows, then its bytes (V6: the record first); an
 * upload whose write lands anywhere in that sequence reads its deploy gone and withdraws what it
 * wrote. Every metadata store with every blob store.
 */
class PurgeSiteRaceHostileTest {

  @RegisterExtension static final S3Extension S3 = new S3Extension();
  @RegisterExtension static final PostgresExtension PG = new PostgresExtension();
  @RegisterExtension static final ValkeyExtension VALKEY = new ValkeyExtension();
  static final SiteId SITE = SiteId.of("hostile-purge");
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

  DeployService plane(Metadata.Kind meta, HookedBlobStore blobs) {
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
            .instanceId("hostile-purge")
            .build();
    return plane.deploys();
  }

  /**
   * Purges the site while an upload of {@code late.js} is blocked; the upload's write lands right
   * {@code before} or after the purge's deletion of {@code prefix}, and the purge goes on only once
   * the write is stored. Returns how the upload ended.
   */
  Throwable uploadLandingAt(Metadata.Kind meta, Blobs.Kind kind, boolean before, String prefix)
      throws Exception {
    raw = kind.create(dir, clock);
    HookedBlobStore blobs = new HookedBlobStore(raw);
    DeployService deploys = plane(meta, blobs);
    Deploy d = deploys.init(SITE, null);
    byte[] html = bytes("<h1>doomed</h1>");
    deploys.upload(
        SITE, d.id(), UploadPath.INDEX_HTML, new ByteArrayInputStream(html), html.length);
    BlobKey lateKey = BlobLayout.deploy(SITE, d.id()).resolve("late.js");

    GatedInputStream late = new GatedInputStream(bytes("late"));
    Future<BlobInfo> upload =
        pool.submit(() -> deploys.upload(SITE, d.id(), UploadPath.of("late.js"), late, 4));
    late.awaitReading(WAIT);
    Runnable land =
        () -> {
          late.open();
          await("the late write landed").atMost(WAIT).until(() -> raw.stat(lateKey).isPresent());
        };
    if (before) {
      blobs.before(HookedBlobStore.Op.DELETE_PREFIX, k -> k.equals(prefix), 1, land);
    } else {
      blobs.after(HookedBlobStore.Op.DELETE_PREFIX, k -> k.equals(prefix), 1, land);
    }
    deploys.purgeSiteNow(SITE);
    Throwable failure;
    try {
      failure = new AssertionError("the upload succeeded: " + upload.get(30, TimeUnit.SECONDS));
    } catch (ExecutionException e) {
      failure = e.getCause();
    }
    assertThat(deploys.deploys(SITE)).isEmpty();
    assertThat(deploys.trash(SITE)).isEmpty();
    assertThat(raw.listAll(BlobLayout.site(SITE)))
        .as("bytes left under the purged site; the upload ended with %s", failure)
        .isEmpty();
    assertThat(raw.listAll(BlobLayout.trash(SITE))).isEmpty();
    assertThat(raw.listAll(BlobLayout.purgeIntents())).isEmpty();
    return failure;
  }

  @ParameterizedTest(name = "{0} + {1}")
  @MethodSource("stores")
  @DisplayName(
      "an upload landing after purgeSite deleted the bytes is withdrawn: nothing of the site is"
          + " left")
  void uploadLandingAfterThePurgesBytes(Metadata.Kind meta, Blobs.Kind kind) throws Exception {
    assertThat(uploadLandingAt(meta, kind, false, BlobLayout.trash(SITE).value()))
        .isInstanceOf(DeployNotFoundException.class);
  }

  @ParameterizedTest(name = "{0} + {1}")
  @MethodSource("stores")
  @DisplayName(
      "an upload landing between purgeSite's rows and its bytes goes with the site and fails")
  void uploadLandingBetweenThePurgesRowsAndBytes(Metadata.Kind meta, Blobs.Kind kind)
      throws Exception {
    assertThat(uploadLandingAt(meta, kind, true, BlobLayout.site(SITE).value()))
        .isInstanceOf(DeployNotFoundException.class);
  }
}
