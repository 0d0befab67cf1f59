package dev.durabledeploy.core.hostile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.durabledeploy.core.CoreFixture;
import dev.durabledeploy.core.DeployOptions;
import dev.durabledeploy.core.deploy.BlobLayout;
import dev.durabledeploy.core.reconcile.DriftKind;
import dev.durabledeploy.core.reconcile.DriftReport;
import dev.durabledeploy.core.site.SiteRegistry;
import dev.durabledeploy.spi.Actions;
import dev.durabledeploy.spi.Authorizer;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.blob.BlobMetadata;
import dev.durabledeploy.spi.blob.BlobPrefix;
import dev.durabledeploy.spi.engine.DeadLetter;
import dev.durabledeploy.spi.exception.AccessDeniedException;
import dev.durabledeploy.spi.exception.DeployNotFoundException;
import dev.durabledeploy.spi.exception.SiteBusyException;
import dev.durabledeploy.spi.lock.SiteLock;
import dev.durabledeploy.spi.metadata.SiteState;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The third hostile pass over the site registry and the soft site delete: trash-only sites, the
 * import beside other importers and purges, an authorizer that refuses.
 */
class SiteThirdPassHostileTest extends CoreFixture {

  private static final SiteId BUSY = SiteId.of("site-busy");
  private static final SiteId SIBLING = SiteId.of("site-a-b");

  private volatile String refused;

  @Override
  protected DeployOptions options() {
    return DeployOptions.builder().lockTimeout(Duration.ofSeconds(2)).build();
  }

  @Override
  protected Authorizer authorizer() {
    return (actor, site, action) -> {
      if (action.equals(refused)) {
        throw new AccessDeniedException(actor, site, action);
      }
    };
  }

  private void putAt(BlobPrefix prefix, String content) {
    byte[] bytes = content.getBytes(StandardCharsets.UTF_8);
    rawBlobs.put(
        prefix.resolve("index.html"),
        new ByteArrayInputStream(bytes),
        bytes.length,
        BlobMetadata.ofType("text/html"));
  }

  private DeployId id(int seed) {
    return DeployId.random(clock.instant(), new SplittableRandom(seed));
  }

  private BlobPrefix siteTrashDeploy(SiteId site, DeployId id) {
    return BlobLayout.siteTrash(site).child("deploys").child(id.value());
  }

  /** Holds {@code site}'s lock on another thread until the returned latch is counted down. */
  private Thread hold(SiteId site, CountDownLatch release) throws InterruptedException {
    CountDownLatch held = new CountDownLatch(1);
    Thread holder =
        new Thread(
            () -> {
              try (SiteLock lock = store.siteLocks().acquire(site, Duration.ofSeconds(5))) {
                held.countDown();
                release.await(30, TimeUnit.SECONDS);
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            });
    holder.start();
    assertThat(held.await(10, TimeUnit.SECONDS)).isTrue();
    return holder;
  }

  // ---- trash-only sites: bytes the registry and the reconciler never see --------------------

  @Test
  @DisplayName(
      "the import registers a site only the site trash has (its record lost), so its bytes"
          + " expire")
  void importSeesASiteOnlyTheSiteTrashHas() {
    putAt(siteTrashDeploy(SITE, id(1)), "deleted site");

    plane.sites().importExisting();

    assertThat(plane.sites().find(SITE))
        .as("a site the bucket has (in its site trash) is registered, so it can expire")
        .hasValueSatisfying(site -> assertThat(site.state()).isEqualTo(SiteState.TRASHED));
    deploys.restoreSite(SITE);
    assertThat(rawBlobs.listAll(BlobLayout.deploy(SITE, id(1))))
        .as("the restore brings the site trash's bytes back live")
        .isNotEmpty();
  }

  @Test
  @DisplayName(
      "detectAll over the whole bucket reports a site whose only bytes are in the"
          + " deploy trash")
  void detectAllSeesASiteOnlyTheDeployTrashHas() {
    putAt(BlobLayout.trash(SITE, id(2)), "old deploy");
    clock.advance(DeployOptions.DEFAULT_GRACE.plusHours(1));

    List<DriftReport> reports = plane.reconciler().detectAll();

    assertThat(reports)
        .as("the trash bytes without a tombstone are drift of a site the bucket has")
        .anySatisfy(
            r -> {
              assertThat(r.site()).isEqualTo(SITE);
              assertThat(r.counts()).containsKey(DriftKind.TRASH_WITHOUT_TOMBSTONE);
            });
  }

  @Test
  @DisplayName(
      "restoreSite of a site registered TRASHED from deploy-trash bytes keeps them, and the"
          + " reconciler then makes that deploy restorable")
  void restoreSiteOfATrashOnlySite() {
    DeployId id = id(3);
    putAt(BlobLayout.trash(SITE, id), "old deploy");
    assertThat(deploys.purgeSite(SITE).restorableUntil()).isNotNull();

    assertThat(deploys.restoreSite(SITE).state()).isEqualTo(SiteState.ACTIVE);
    assertThat(rawBlobs.listAll(BlobLayout.trash(SITE, id))).isNotEmpty();

    clock.advance(DeployOptions.DEFAULT_GRACE.plusHours(1));
    plane.reconciler().reconcile(SITE, true);
    assertThat(deploys.trash(SITE)).extracting(t -> t.deployId()).contains(id);
    deploys.restore(SITE, id);
    assertThat(rawBlobs.listAll(BlobLayout.deploy(SITE, id))).isNotEmpty();
  }

  @Test
  @DisplayName("restore of a tombstone-less trashed deploy is refused and moves nothing")
  void restoreOfATombstonelessTrashedDeploy() {
    finalizedDeploy(PROD, "v1");
    DeployId id = id(4);
    putAt(BlobLayout.trash(SITE, id), "old deploy");

    assertThatThrownBy(() -> deploys.restore(SITE, id)).isInstanceOf(DeployNotFoundException.class);
    assertThat(rawBlobs.listAll(BlobLayout.trash(SITE, id))).isNotEmpty();
    assertThat(rawBlobs.listAll(BlobLayout.deploy(SITE, id))).isEmpty();
  }

  @Test
  @DisplayName(
      "the site-trash-only site registered TRASHED by purgeSite is deleted by purgeSiteNow")
  void purgeSiteNowOfASiteTrashOnlySite() {
    putAt(siteTrashDeploy(SITE, id(5)), "deleted site");
    deploys.purgeSite(SITE);
    assertThat(plane.sites().find(SITE).orElseThrow().state()).isEqualTo(SiteState.TRASHED);

    deploys.purgeSiteNow(SITE);

    assertThat(rawBlobs.listAll(BlobLayout.siteTrash(SITE))).isEmpty();
    assertThat(plane.sites().find(SITE)).isEmpty();
  }

  @Test
  @DisplayName("a trashed site is neither adopted by backfill nor brought back by reconcile")
  void backfillAndReconcileLeaveATrashedSiteAlone() {
    finalizedDeploy(PROD, "v1");
    deploys.purgeSite(SITE);

    assertThat(plane.backfill().site(SITE).adopted()).isZero();
    plane.reconciler().reconcile(SITE, true);

    assertThat(rawBlobs.listAll(BlobLayout.site(SITE))).isEmpty();
    assertThat(plane.sites().find(SITE).orElseThrow().state()).isEqualTo(SiteState.TRASHED);
  }

  @Test
  @DisplayName("purgeSite of a slug whose sibling (site-a-b) has trash bytes registers nothing")
  void purgeSiteOfAPrefixSibling() {
    putAt(BlobLayout.trash(SIBLING, id(6)), "sibling");

    deploys.purgeSite(SITE);

    assertThat(plane.sites().find(SITE)).isEmpty();
    assertThat(plane.sites().find(SIBLING)).isEmpty();
    assertThat(rawBlobs.listAll(BlobLayout.trash(SIBLING))).isNotEmpty();
  }

  // ---- the import beside other importers and purges ------------------------------------------

  @Test
  @DisplayName(
      "two imports at once: exactly one reports the site as registered by it (the second"
          + " finds it registered once it holds the lock)")
  void twoImportersAtOnce() throws Exception {
    putAt(BlobLayout.deploy(BUSY, id(7)), "busy");
    CountDownLatch release = new CountDownLatch(1);
    Thread holder = hold(BUSY, release);
    List<AtomicReference<SiteRegistry.ImportReport>> reports = new ArrayList<>();
    List<Thread> importers = new ArrayList<>();
    for (int i = 0; i < 2; i++) {
      AtomicReference<SiteRegistry.ImportReport> report = new AtomicReference<>();
      reports.add(report);
      Thread t = new Thread(() -> report.set(plane.sites().importExisting()));
      importers.add(t);
      t.start();
    }
    try {
      // Both past their registry check and waiting on the lock.
      Awaitility.await()
          .atMost(Duration.ofSeconds(10))
          .pollInterval(Duration.ofMillis(1))
          .until(
              () -> importers.stream().allMatch(t -> t.getState() == Thread.State.TIMED_WAITING));
    } finally {
      release.countDown();
      holder.join();
    }
    for (Thread t : importers) {
      t.join(10_000);
    }
    long claims =
        reports.stream()
            .filter(r -> r.get() != null && r.get().registered().contains(BUSY))
            .count();
    assertThat(reports)
        .allSatisfy(
            r -> {
              assertThat(r.get()).isNotNull();
              assertThat(r.get().busy()).isEmpty();
            });
    assertThat(claims).as("imports reporting BUSY as registered by them: %s", reports).isEqualTo(1);
  }

  @Test
  @DisplayName(
      "a site skipped as busy, then soft-deleted, is neither re-registered nor moved back by the"
          + " next import")
  void busyThenPurgedThenImported() throws Exception {
    DeployId id = id(8);
    putAt(BlobLayout.deploy(BUSY, id), "busy");
    CountDownLatch release = new CountDownLatch(1);
    Thread holder = hold(BUSY, release);
    try {
      assertThat(plane.sites().importExisting().busy()).containsExactly(BUSY);
    } finally {
      release.countDown();
      holder.join();
    }
    deploys.purgeSite(BUSY);

    SiteRegistry.ImportReport again = plane.sites().importExisting();

    assertThat(again.registered()).isEmpty();
    assertThat(again.busy()).isEmpty();
    assertThat(plane.sites().find(BUSY).orElseThrow().state()).isEqualTo(SiteState.TRASHED);
    assertThat(rawBlobs.listAll(BlobLayout.site(BUSY))).isEmpty();
    assertThat(rawBlobs.listAll(siteTrashDeploy(BUSY, id))).isNotEmpty();
  }

  @Test
  @DisplayName(
      "the start-up import dead-lettered on a held site, retried after the host purged that site"
          + " for good, completes without bringing it back")
  void importRetriedAfterTheHostPurgedTheHeldSite() throws Exception {
    putAt(BlobLayout.deploy(BUSY, id(9)), "busy");
    putAt(BlobLayout.deploy(SITE, id(10)), "other");
    CountDownLatch release = new CountDownLatch(1);
    Thread holder = hold(BUSY, release);
    DeadLetter dead;
    try {
      plane.start();
      dead =
          Awaitility.await()
              .atMost(Duration.ofSeconds(30))
              .until(
                  () ->
                      engine.deadLetters(10).stream()
                          .filter(d -> d.workflow().equals(SiteRegistry.WORKFLOW))
                          .findFirst(),
                  Optional::isPresent)
              .orElseThrow();
    } finally {
      release.countDown();
      holder.join();
    }
    deploys.purgeSiteNow(BUSY);

    engine.retryDeadLetter(dead.id()).toCompletableFuture().get(10, TimeUnit.SECONDS);

    assertThat(plane.sites().find(BUSY)).isEmpty();
    assertThat(rawBlobs.listAll(BlobLayout.site(BUSY))).isEmpty();
    assertThat(plane.sites().find(SITE)).isPresent();
  }

  @Test
  @DisplayName("purgeSite of a trash-only site whose lock is held times out and registers nothing")
  void purgeSiteOfAHeldTrashOnlySite() throws Exception {
    putAt(BlobLayout.trash(SITE, id(11)), "old");
    CountDownLatch release = new CountDownLatch(1);
    Thread holder = hold(SITE, release);
    try {
      assertThatThrownBy(() -> deploys.purgeSite(SITE)).isInstanceOf(SiteBusyException.class);
    } finally {
      release.countDown();
      holder.join();
    }
    assertThat(plane.sites().find(SITE)).isEmpty();
  }

  // ---- an authorizer that refuses ------------------------------------------------------------

  @Test
  @DisplayName("a refused purgeSite of a trash-only site registers nothing and keeps its bytes")
  void refusedPurgeSiteOfATrashOnlySite() {
    putAt(BlobLayout.trash(SITE, id(12)), "old");
    refused = Actions.SITE_DELETE;

    assertThatThrownBy(() -> deploys.purgeSite(SITE))
        .isInstanceOf(AccessDeniedException.class)
        .hasMessageContaining(Actions.SITE_DELETE);
    assertThat(plane.sites().find(SITE)).isEmpty();
    assertThat(rawBlobs.listAll(BlobLayout.trash(SITE))).isNotEmpty();
  }

  @Test
  @DisplayName(
      "a refused restoreSite leaves the trash-only site TRASHED, and the tombstone purge still"
          + " expires it")
  void refusedRestoreSite() {
    putAt(siteTrashDeploy(SITE, id(13)), "deleted site");
    deploys.purgeSite(SITE);
    refused = Actions.SITE_RESTORE;

    assertThatThrownBy(() -> deploys.restoreSite(SITE)).isInstanceOf(AccessDeniedException.class);
    assertThat(plane.sites().find(SITE).orElseThrow().state()).isEqualTo(SiteState.TRASHED);

    refused = null;
    clock.advance(DeployOptions.DEFAULT_RECOVERY_WINDOW.plusMinutes(1));
    assertThat(plane.tombstonePurge().run().sitesPurged()).isEqualTo(1);
    assertThat(rawBlobs.listAll(BlobLayout.siteTrash(SITE))).isEmpty();
  }
}
