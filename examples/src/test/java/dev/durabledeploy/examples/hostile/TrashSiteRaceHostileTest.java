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
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.spi.retry.RetryPolicy;
import dev.durabledeploy.store.memory.InMemoryWorkflowEngine;
import dev.durabledeploy.testkit.GatedInputStream;
import dev.durabledeploy.testkit.MutableClock;
import dev.durabledeploy.testkit.fixtures.PostgresExtension;
import dev.durabledeploy.testkit.fixtures.ValkeyExtension;
import java.io.ByteArrayInputStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
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
 * The soft purgeSite (trash) racing an upload to a pending deploy: the trash removes the pending
 * row, deletes its bytes, then moves the site to its trash. An upload whose write lands between the
 * deletion and the move must not leave bytes that a restoreSite brings back without a row.
 */
class TrashSiteRaceHostileTest {

  @RegisterExtension static final PostgresExtension PG = new PostgresExtension();
  @RegisterExtension static final ValkeyExtension VALKEY = new ValkeyExtension();
  static final SiteId SITE = SiteId.of("hostile-trash");
  static final Duration WAIT = Duration.ofSeconds(30);

  @TempDir Path dir;
  final MutableClock clock = new MutableClock();
  final ExecutorService pool = Executors.newCachedThreadPool();
  DurableDeploy plane;
  Store store;
  BlobStore raw;

  static Stream<Arguments> stores() {
    return Stream.of(Metadata.memory(), Metadata.postgres(PG), Metadata.valkey(VALKEY))
        .map(meta -> Arguments.of(meta, Blobs.memory()));
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
            .instanceId("hostile-trash")
            .build();
    return plane.deploys();
  }

  @ParameterizedTest(name = "{0} + {1}")
  @MethodSource("stores")
  @DisplayName(
      "an upload landing between the trash's deletion of a pending deploy and the site move leaves"
          + " nothing for restoreSite to bring back")
  void uploadLandingBetweenTheDeletionAndTheMove(Metadata.Kind meta, Blobs.Kind kind)
      throws Exception {
    raw = kind.create(dir, clock);
    HookedBlobStore blobs = new HookedBlobStore(raw);
    DeployService deploys = plane(meta, blobs);
    Deploy pending = deploys.init(SITE, null);
    byte[] html = bytes("<h1>pending</h1>");
    deploys.upload(
        SITE, pending.id(), UploadPath.INDEX_HTML, new ByteArrayInputStream(html), html.length);
    BlobKey lateKey = BlobLayout.deploy(SITE, pending.id()).resolve("late.js");

    GatedInputStream late = new GatedInputStream(bytes("late"));
    Future<BlobInfo> upload =
        pool.submit(() -> deploys.upload(SITE, pending.id(), UploadPath.of("late.js"), late, 4));
    late.awaitReading(WAIT);
    CountDownLatch moved = new CountDownLatch(1);
    // The late write lands right before the trash moves the site; its withdrawal (whatever call
    // the upload makes on its key after that) waits until the move is done.
    blobs.before(
        HookedBlobStore.Op.MOVE_PREFIX,
        k -> k.equals(BlobLayout.site(SITE).value()),
        1,
        () -> {
          late.open();
          await("the late write landed").atMost(WAIT).until(() -> raw.stat(lateKey).isPresent());
        });
    blobs.after(
        HookedBlobStore.Op.MOVE_PREFIX,
        k -> k.equals(BlobLayout.site(SITE).value()),
        1,
        moved::countDown);
    blobs.before(
        HookedBlobStore.Op.DELETE,
        k -> k.equals(lateKey.value()),
        1,
        () -> {
          try {
            moved.await(30, TimeUnit.SECONDS);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        });
    deploys.purgeSite(SITE);
    Throwable failure;
    try {
      failure = new AssertionError("the upload succeeded: " + upload.get(30, TimeUnit.SECONDS));
    } catch (ExecutionException e) {
      failure = e.getCause();
    }
    blobs.clear();

    deploys.restoreSite(SITE);
    assertThat(deploys.deploys(SITE)).isEmpty();
    assertThat(raw.listAll(BlobLayout.site(SITE)))
        .as(
            "bytes of the abandoned pending deploy back under the restored site; the upload ended"
                + " with %s",
            failure)
        .isEmpty();
    assertThat(raw.listAll(BlobLayout.siteTrash(SITE))).isEmpty();
  }
}
