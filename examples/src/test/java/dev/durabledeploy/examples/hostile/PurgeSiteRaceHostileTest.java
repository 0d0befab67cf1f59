package dev.durabledeploy.examples.hostile;

import static dev.durabledeploy.examples.hostile.Blobs.bytes;
import static org.assertj.core.api.Assertions.assertThat;

import dev.durabledeploy.core.DeployOptions;
import dev.durabledeploy.core.DurableDeploy;
import dev.durabledeploy.core.deploy.BlobLayout;
import dev.durabledeploy.core.deploy.DeployService;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.UploadPath;
import dev.durabledeploy.spi.blob.BlobInfo;
import dev.durabledeploy.spi.blob.BlobStore;
import dev.durabledeploy.spi.metadata.Deploy;
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
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * purgeSite deletes the site's bytes first and its rows second (V6); delete and GC write their
 * tombstone row first. An upload whose write lands between purgeSite's byte deletion and its row
 * deletion reads the deploy as still pending.
 */
class PurgeSiteRaceHostileTest {

  @RegisterExtension static final S3Extension S3 = new S3Extension();
  static final SiteId SITE = SiteId.of("hostile-purge");

  @TempDir Path dir;
  final MutableClock clock = new MutableClock();
  final ExecutorService pool = Executors.newCachedThreadPool();
  DurableDeploy plane;
  BlobStore raw;

  static Stream<Blobs.Kind> stores() {
    return Stream.of(Blobs.memory(), Blobs.filesystem(), Blobs.s3(S3));
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

  // BREAKS: an upload whose write lands after purgeSite deleted the bytes and before it deleted
  // the rows reports success, and its bytes stay under the purged site, in no deploy and no trash.
  @ParameterizedTest(name = "{0}")
  @MethodSource("stores")
  void uploadLandingBetweenThePurgesBytesAndRows(Blobs.Kind kind) throws Exception {
    raw = kind.create(dir, clock);
    HookedBlobStore blobs = new HookedBlobStore(raw);
    plane =
        DurableDeploy.builder()
            .store(new InMemoryStore(clock))
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
    DeployService deploys = plane.deploys();
    Deploy d = deploys.init(SITE, null);
    byte[] html = bytes("<h1>doomed</h1>");
    deploys.upload(
        SITE, d.id(), UploadPath.INDEX_HTML, new ByteArrayInputStream(html), html.length);

    GatedInputStream late = new GatedInputStream(bytes("late"));
    Future<BlobInfo> upload =
        pool.submit(() -> deploys.upload(SITE, d.id(), UploadPath.of("late.js"), late, 4));
    late.awaitReading(Duration.ofSeconds(30));

    // Right after purgeSite deleted the site's trash (its last byte deletion), before its rows go:
    // the upload's write lands and the upload finishes.
    AtomicReference<Object> outcome = new AtomicReference<>();
    blobs.after(
        HookedBlobStore.Op.DELETE_PREFIX,
        k -> k.equals(BlobLayout.trash(SITE).value()),
        1,
        () -> {
          late.open();
          try {
            outcome.set(upload.get(30, TimeUnit.SECONDS));
          } catch (ExecutionException e) {
            outcome.set(e.getCause());
          } catch (Exception e) {
            outcome.set(e);
          }
        });
    deploys.purgeSite(SITE);

    assertThat(deploys.deploys(SITE)).isEmpty();
    assertThat(deploys.trash(SITE)).isEmpty();
    assertThat(raw.listAll(BlobLayout.site(SITE)))
        .as("bytes left under the purged site; the upload returned %s", outcome.get())
        .isEmpty();
  }
}
