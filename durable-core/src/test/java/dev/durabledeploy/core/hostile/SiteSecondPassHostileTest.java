package dev.durabledeploy.core.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import dev.durabledeploy.core.CoreFixture;
import dev.durabledeploy.core.DeployOptions;
import dev.durabledeploy.core.deploy.BlobLayout;
import dev.durabledeploy.core.site.SiteRegistry;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.blob.BlobMetadata;
import dev.durabledeploy.spi.engine.DeadLetter;
import dev.durabledeploy.spi.lock.SiteLock;
import dev.durabledeploy.spi.metadata.SiteState;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** The second hostile pass over the site registry and the soft site delete. */
class SiteSecondPassHostileTest extends CoreFixture {

  private static final SiteId BUSY = SiteId.of("site-busy");
  private static final SiteId OTHER = SiteId.of("site-other");

  @Override
  protected DeployOptions options() {
    return DeployOptions.builder().lockTimeout(Duration.ofMillis(50)).build();
  }

  private void put(SiteId site, DeployId id, String content) {
    byte[] bytes = content.getBytes(StandardCharsets.UTF_8);
    rawBlobs.put(
        BlobLayout.deploy(site, id).resolve("index.html"),
        new ByteArrayInputStream(bytes),
        bytes.length,
        BlobMetadata.ofType("text/html"));
  }

  @Test
  @DisplayName("the import skips a site whose lock another host holds and registers the rest")
  void importWithOneBusySite() throws Exception {
    put(BUSY, DeployId.random(clock.instant(), new SplittableRandom(1)), "busy");
    put(OTHER, DeployId.random(clock.instant(), new SplittableRandom(2)), "other");
    CountDownLatch held = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    Thread holder =
        new Thread(
            () -> {
              try (SiteLock lock = store.siteLocks().acquire(BUSY, Duration.ofSeconds(5))) {
                held.countDown();
                release.await(30, TimeUnit.SECONDS);
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            });
    holder.start();
    try {
      assertThat(held.await(10, TimeUnit.SECONDS)).isTrue();
      SiteRegistry.ImportReport report = plane.sites().importExisting();
      assertThat(report.registered()).containsExactly(OTHER);
      assertThat(report.busy()).containsExactly(BUSY);
      assertThat(plane.sites().find(OTHER)).isPresent();
      assertThat(plane.sites().find(BUSY)).isEmpty();
    } finally {
      release.countDown();
      holder.join();
    }
    SiteRegistry.ImportReport again = plane.sites().importExisting();
    assertThat(again.registered()).containsExactly(BUSY);
    assertThat(again.busy()).isEmpty();
    assertThat(again.alreadyRegistered()).isEqualTo(1);
  }

  @Test
  @DisplayName("purgeSite of a site only the deploy trash has registers it TRASHED, and it expires")
  void purgeSiteOfATrashOnlySite() {
    DeployId id = DeployId.random(clock.instant(), new SplittableRandom(3));
    byte[] bytes = "old".getBytes(StandardCharsets.UTF_8);
    rawBlobs.put(
        BlobLayout.trash(SITE, id).resolve("index.html"),
        new ByteArrayInputStream(bytes),
        bytes.length,
        BlobMetadata.ofType("text/html"));

    assertThat(deploys.purgeSite(SITE).restorableUntil()).isNotNull();
    assertThat(plane.sites().find(SITE).orElseThrow().state()).isEqualTo(SiteState.TRASHED);

    clock.advance(DeployOptions.DEFAULT_RECOVERY_WINDOW.plusMinutes(1));
    var report = plane.tombstonePurge().run();
    assertThat(report.sitesPurged()).isEqualTo(1);
    assertThat(rawBlobs.listAll(BlobLayout.trash(SITE))).isEmpty();
    assertThat(plane.sites().find(SITE)).isEmpty();
  }

  @Test
  @DisplayName("purgeSite then restoreSite gives back the site, its deploys and its aliases")
  void restoreRoundTrip() {
    var deploy = finalizedDeploy(PROD, "v1");
    deploys.purgeSite(SITE);
    assertThat(rawBlobs.listAll(BlobLayout.site(SITE))).isEmpty();
    deploys.restoreSite(SITE);
    assertThat(plane.sites().find(SITE).orElseThrow().state()).isEqualTo(SiteState.ACTIVE);
    assertThat(rawBlobs.listAll(BlobLayout.deploy(SITE, deploy.id()))).isNotEmpty();
    assertThat(deploys.aliases(SITE)).extracting(a -> a.target()).containsExactly(deploy.id());
  }

  @Test
  @DisplayName(
      "the start-up import with a site held dead-letters visibly after registering the rest, and"
          + " its retry registers the held site")
  void startUpImportWithOneBusySite() throws Exception {
    put(BUSY, DeployId.random(clock.instant(), new SplittableRandom(1)), "busy");
    put(OTHER, DeployId.random(clock.instant(), new SplittableRandom(2)), "other");
    CountDownLatch held = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    Thread holder =
        new Thread(
            () -> {
              try (SiteLock lock = store.siteLocks().acquire(BUSY, Duration.ofSeconds(5))) {
                held.countDown();
                release.await(30, TimeUnit.SECONDS);
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            });
    holder.start();
    DeadLetter dead;
    try {
      assertThat(held.await(10, TimeUnit.SECONDS)).isTrue();
      plane.start();
      dead =
          Awaitility.await()
              .atMost(Duration.ofSeconds(20))
              .until(
                  () ->
                      engine.deadLetters(10).stream()
                          .filter(d -> d.workflow().equals(SiteRegistry.WORKFLOW))
                          .findFirst(),
                  Optional::isPresent)
              .orElseThrow();
      assertThat(plane.sites().find(OTHER)).isPresent();
      assertThat(plane.sites().find(BUSY)).isEmpty();
    } finally {
      release.countDown();
      holder.join();
    }
    engine.retryDeadLetter(dead.id()).toCompletableFuture().get(10, TimeUnit.SECONDS);
    Awaitility.await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> plane.sites().find(BUSY).isPresent());
  }
}
