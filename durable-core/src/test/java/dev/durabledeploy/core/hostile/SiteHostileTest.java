package dev.durabledeploy.core.hostile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.durabledeploy.core.CoreFixture;
import dev.durabledeploy.core.DeployOptions;
import dev.durabledeploy.core.deploy.BlobLayout;
import dev.durabledeploy.core.deploy.Manifest;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.UploadPath;
import dev.durabledeploy.spi.blob.BlobInfo;
import dev.durabledeploy.spi.blob.BlobKey;
import dev.durabledeploy.spi.blob.BlobMetadata;
import dev.durabledeploy.spi.blob.BlobPrefix;
import dev.durabledeploy.spi.exception.SiteNotFoundException;
import dev.durabledeploy.spi.exception.SiteStateException;
import dev.durabledeploy.spi.metadata.AliasExpectation;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.spi.metadata.Site;
import dev.durabledeploy.spi.metadata.SiteProfile;
import dev.durabledeploy.spi.metadata.SiteState;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * A hostile host against the site registry and the soft site purge, through the public API on the
 * in-memory store.
 */
class SiteHostileTest extends CoreFixture {

  private static final Duration WINDOW = DeployOptions.DEFAULT_RECOVERY_WINDOW;

  private void put(BlobKey key, String content) {
    byte[] bytes = content.getBytes(StandardCharsets.UTF_8);
    rawBlobs.put(
        key, new ByteArrayInputStream(bytes), bytes.length, BlobMetadata.ofType("text/plain"));
  }

  private List<String> allKeys() {
    return rawBlobs.listAll(BlobPrefix.ROOT).stream()
        .map(BlobInfo::key)
        .map(BlobKey::value)
        .sorted()
        .toList();
  }

  @Test
  @DisplayName(
      "purgeSite of a site only the bucket has (no rows, no record) takes its bytes offline")
  void purgeSiteOfABucketOnlySite() {
    // A bucket adopted from elsewhere (or an index that lost the site): bytes and a projection
    // the serve plane reads, but no row and no record yet.
    DeployId id = DeployId.random(clock.instant(), new SplittableRandom(7));
    put(BlobLayout.deploy(SITE, id).resolve("index.html"), "<h1>live</h1>");
    put(BlobLayout.alias(SITE, PROD), "{\"target\":\"" + id.value() + "\",\"version\":1}");

    deploys.purgeSite(SITE);

    // The host deleted the site: whatever it did (trash, refuse), the serve plane must not keep
    // serving it from <site>/ while the call returned normally.
    assertThat(rawBlobs.listAll(BlobLayout.site(SITE)))
        .as("bytes still live under %s/ after purgeSite returned", SITE)
        .isEmpty();
  }

  @Test
  @DisplayName(
      "the start-up import racing purgeSiteNow does not resurrect the purged site's record")
  void importRacingPurgeForGood() throws Exception {
    finalizedDeploy(PROD, "v1");
    // The import walks the index and the bucket first (the last call: the bucket listing's
    // empty page), then registers what it found. The host purges the site for good in between.
    AtomicReference<Throwable> failure = new AtomicReference<>();
    blobs.afterCall(
        2,
        () -> {
          Thread t =
              new Thread(
                  () -> {
                    try {
                      deploys.purgeSiteNow(SITE);
                    } catch (Throwable e) {
                      failure.set(e);
                    }
                  });
          t.start();
          try {
            t.join();
          } catch (InterruptedException e) {
            throw new IllegalStateException(e);
          }
        });
    var report = plane.sites().importExisting();
    blobs.heal();
    assertThat(failure.get()).isNull();
    assertThat(deploys.deploys(SITE)).isEmpty();
    assertThat(plane.sites().find(SITE))
        .as("import report %s: a site purged for good is registered again", report)
        .isEmpty();
  }

  @Test
  @DisplayName("every mutation of a trashed site is refused and moves no byte, changes no row")
  void trashedSiteRefusesEverything() {
    Deploy first = finalizedDeploy(PROD, "v1");
    Deploy second = finalizedDeploy(PROD, "v2");
    Deploy third = finalizedDeploy(AliasName.PREVIEW, "v3");
    deploys.promote(SITE, second.id(), AliasName.PREVIEW, AliasExpectation.ANY);
    deploys.delete(SITE, third.id());
    deploys.purgeSite(SITE);
    Site trashed = plane.sites().find(SITE).orElseThrow();
    assertThat(trashed.state()).isEqualTo(SiteState.TRASHED);
    List<String> keys = allKeys();
    List<Deploy> rows = deploys.deploys(SITE);

    Map<String, Runnable> calls = new LinkedHashMap<>();
    calls.put("init", () -> deploys.init(SITE, null));
    calls.put(
        "upload",
        () ->
            deploys.upload(
                SITE,
                first.id(),
                UploadPath.of("extra.html"),
                new ByteArrayInputStream(new byte[] {1}),
                1));
    calls.put(
        "finalize",
        () -> deploys.finalizeDeploy(SITE, first.id(), PROD, Manifest.of("index.html")));
    calls.put("promote", () -> deploys.promote(SITE, first.id(), PROD, AliasExpectation.ANY));
    calls.put("rollback", () -> deploys.rollback(SITE, PROD));
    calls.put("rollbackTo", () -> deploys.rollback(SITE, PROD, first.id(), AliasExpectation.ANY));
    calls.put("delete", () -> deploys.delete(SITE, first.id()));
    calls.put("restore", () -> deploys.restore(SITE, third.id()));
    calls.put("register", () -> plane.sites().register(SITE, trashed.profile()));
    calls.put("update", () -> plane.sites().update(SITE, SiteProfile.of("x", "y"), 0));
    calls.put("gc", () -> plane.gc().run(SITE, false));
    calls.put("backfill", () -> plane.backfill().site(SITE));
    calls.put("reconcile", () -> plane.reconciler().reconcile(SITE, true));
    calls.put("tombstonePurge", () -> plane.tombstonePurge().run());
    List<String> changed = new ArrayList<>();
    Map<String, String> outcomes = new LinkedHashMap<>();
    for (var call : calls.entrySet()) {
      try {
        call.getValue().run();
      } catch (RuntimeException expected) {
        // refused: fine, as long as nothing moved
        outcomes.put(call.getKey(), expected.getClass().getSimpleName());
      }
      if (!allKeys().equals(keys)
          || !deploys.deploys(SITE).equals(rows)
          || !plane.sites().find(SITE).orElseThrow().equals(trashed)) {
        changed.add(call.getKey());
        keys = allKeys();
        rows = deploys.deploys(SITE);
      }
    }
    assertThat(changed).as("mutations that changed a trashed site %s", outcomes).isEmpty();
    // And it still restores whole.
    deploys.restoreSite(SITE);
    assertThat(deploys.aliases(SITE))
        .anyMatch(a -> a.name().equals(PROD) && second.id().equals(a.target()));
  }

  @Test
  @DisplayName("restoreSite: allowed until the last instant of the window, refused at its close")
  void restoreAtTheWindowEdge() {
    finalizedDeploy(PROD, "v1");
    var deletion = deploys.purgeSite(SITE);
    clock.set(deletion.restorableUntil());
    assertThatThrownBy(() -> deploys.restoreSite(SITE)).isInstanceOf(SiteStateException.class);
    clock.set(deletion.restorableUntil().minusNanos(1000));
    assertThat(deploys.restoreSite(SITE).state()).isEqualTo(SiteState.ACTIVE);
  }

  @Test
  @DisplayName("restoreSite after purgeSiteNow is SiteNotFound, and nothing comes back")
  void restoreAfterPurgeForGood() {
    finalizedDeploy(PROD, "v1");
    deploys.purgeSite(SITE);
    deploys.purgeSiteNow(SITE);
    assertThatThrownBy(() -> deploys.restoreSite(SITE)).isInstanceOf(SiteNotFoundException.class);
    assertThat(allKeys()).noneMatch(k -> k.contains(SITE.value()));
  }

  @Test
  @DisplayName(
      "backfill from a hostile projection object (version Long.MAX_VALUE) does not wedge the alias")
  void backfillOfAHugeProjectionVersion() {
    Deploy first = finalizedDeploy(PROD, "v1");
    // A bucket object anyone with write access to the bucket (or a buggy serve plane tool) wrote.
    put(
        BlobLayout.alias(SITE, PROD),
        "{\"deployId\":\"" + first.id().value() + "\",\"version\":" + Long.MAX_VALUE + "}");
    var report = plane.backfill().site(SITE);

    // The host goes on deploying: production must move to the new deploy with a sane version.
    Deploy second = finalizedDeploy(PROD, "v2");
    var prod =
        deploys.aliases(SITE).stream().filter(a -> a.name().equals(PROD)).findFirst().orElseThrow();
    assertThat(prod.target()).as("backfill report %s", report).isEqualTo(second.id());
    assertThat(prod.version()).as("alias version after the move").isPositive();
  }

  private String projection(AliasName alias) {
    try (var c = rawBlobs.get(BlobLayout.alias(SITE, alias)).orElseThrow()) {
      return new String(c.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  private void project(Deploy target, long version) {
    // As the alias-project workflow writes it.
    put(
        BlobLayout.alias(SITE, PROD),
        "{\"deployId\":\"" + target.id().value() + "\",\"version\":" + version + "}");
  }

  @Test
  @DisplayName(
      "finishing a crashed restoreSite by calling it again does not roll the served production"
          + " projection back over a deploy made in between")
  void repeatedRestoreOverwritesANewerProjection() {
    Deploy a = finalizedDeploy(PROD, "v1");
    project(a, 1);
    deploys.purgeSite(SITE);
    // The restore's process dies after its record (ACTIVE again), before its byte move (its
    // blob calls: the check for an unfinished purge, then the move).
    blobs
        .failOnCall(2, dev.durabledeploy.testkit.FaultInjectingBlobStore.When.BEFORE)
        .throwing(() -> new IllegalStateException("crash"));
    assertThatThrownBy(() -> deploys.restoreSite(SITE)).hasMessageContaining("crash");
    blobs.heal();
    assertThat(plane.sites().find(SITE).orElseThrow().state()).isEqualTo(SiteState.ACTIVE);
    assertThat(rawBlobs.listAll(BlobLayout.siteTrash(SITE)))
        .as("left in the site trash")
        .isNotEmpty();

    // The site is active: CI deploys to it, and production's projection follows.
    Deploy b = finalizedDeploy(PROD, "v2");
    assertThat(
            deploys.aliases(SITE).stream()
                .filter(x -> x.name().equals(PROD))
                .findFirst()
                .orElseThrow()
                .version())
        .isEqualTo(2);
    project(b, 2);

    // The operator finishes the restore the documented way: by calling it again.
    deploys.restoreSite(SITE);
    assertThat(projection(PROD))
        .as("the projection the serve plane reads after the repeated restore")
        .contains(b.id().value());
  }

  @Test
  @DisplayName(
      "a host's tombstonePurge().as(actor) that deletes an expired trashed site records that actor")
  void expiredSitePurgeRecordsTheHostsActor() {
    finalizedDeploy(PROD, "v1");
    deploys.purgeSite(SITE);
    clock.advance(WINDOW.plusSeconds(1));
    var alice = dev.durabledeploy.spi.Actor.of("user:alice");
    var report = plane.tombstonePurge().as(alice).run();
    assertThat(report.sitesPurged()).isEqualTo(1);
    var deletion =
        store.metadata().auditLog(SITE, 100).stream()
            .filter(e -> e.action().equals("site.delete"))
            .findFirst()
            .orElseThrow();
    assertThat(deletion.actor()).as("actor of %s", deletion).isEqualTo(alice);
  }

  @Test
  @DisplayName(
      "backfill over a bucket with a site whose trash crashed before its byte move does not fail")
  void backfillBesideAnUnfinishedTrash() {
    finalizedDeploy(PROD, "v1");
    // The trash's process dies after its record (TRASHED), before its byte move.
    int calls = 0;
    while (true) {
      calls++;
      blobs
          .failOnCall(calls, dev.durabledeploy.testkit.FaultInjectingBlobStore.When.BEFORE)
          .throwing(() -> new IllegalStateException("crash"));
      try {
        deploys.purgeSite(SITE);
        throw new AssertionError("the trash made fewer blob calls than " + calls);
      } catch (IllegalStateException crash) {
        blobs.heal();
      }
      if (plane.sites().find(SITE).orElseThrow().state() == SiteState.TRASHED) {
        break;
      }
    }
    assertThat(rawBlobs.listAll(BlobLayout.site(SITE))).as("bytes still live").isNotEmpty();

    // The host adopts its bucket (a migration): the half-trashed site must not abort it.
    org.assertj.core.api.ThrowableAssert.ThrowingCallable all = () -> plane.backfill().all();
    org.assertj.core.api.Assertions.assertThatCode(all).doesNotThrowAnyException();
    org.assertj.core.api.Assertions.assertThatCode(() -> plane.backfill().site(SITE))
        .doesNotThrowAnyException();
  }

  @Test
  @DisplayName(
      "a restoreSite after a purgeSiteNow that crashed past its intent finishes the purge and is"
          + " refused: a purge for good once recorded stands")
  void restoreAfterACrashedPurgeForGoodStays() {
    finalizedDeploy(PROD, "v1");
    deploys.purgeSite(SITE);
    // The operator starts a purge for good; its process dies right after it recorded its intent,
    // before any row went.
    blobs
        .failOnCall(1, dev.durabledeploy.testkit.FaultInjectingBlobStore.When.AFTER)
        .throwing(() -> new IllegalStateException("crash"));
    assertThatThrownBy(() -> deploys.purgeSiteNow(SITE)).hasMessageContaining("crash");
    blobs.heal();
    assertThat(plane.sites().find(SITE).orElseThrow().state()).isEqualTo(SiteState.TRASHED);

    // A restore does not answer ACTIVE for a site the tombstone purge would then delete: the
    // recorded purge is finished, and the restore says so.
    assertThatThrownBy(() -> deploys.restoreSite(SITE))
        .isInstanceOf(SiteNotFoundException.class)
        .hasMessageContaining("purge for good of it was unfinished");
    assertThat(plane.sites().find(SITE)).isEmpty();
    assertThat(deploys.deploys(SITE)).isEmpty();
    assertThat(allKeys()).noneMatch(k -> k.contains(SITE.value()));
    plane.tombstonePurge().run();
    assertThat(plane.sites().find(SITE)).isEmpty();
  }
}
