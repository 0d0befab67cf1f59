package dev.durabledeploy.core.purge;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.durabledeploy.core.CoreFixture;
import dev.durabledeploy.core.DeployOptions;
import dev.durabledeploy.core.deploy.BlobLayout;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.blob.BlobInfo;
import dev.durabledeploy.spi.blob.BlobPrefix;
import dev.durabledeploy.spi.exception.DeployNotFoundException;
import dev.durabledeploy.spi.exception.SiteNotFoundException;
import dev.durabledeploy.spi.exception.SiteStateException;
import dev.durabledeploy.spi.metadata.AliasExpectation;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.spi.metadata.Site;
import dev.durabledeploy.spi.metadata.SiteDeletion;
import dev.durabledeploy.spi.metadata.SiteState;
import dev.durabledeploy.spi.outbox.OutboxEvent;
import dev.durabledeploy.spi.outbox.StandardEvents;
import dev.durabledeploy.testkit.FaultInjectingBlobStore;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** {@code purgeSite} as a soft delete, {@code restoreSite}, and the purge for good after it. */
class SiteTrashTest extends CoreFixture {

  private static final Duration WINDOW = DeployOptions.DEFAULT_RECOVERY_WINDOW;

  private List<String> keys(BlobPrefix prefix) {
    return rawBlobs.listAll(prefix).stream()
        .map(BlobInfo::key)
        .map(k -> k.relativeTo(prefix))
        .sorted()
        .toList();
  }

  private static List<String> withoutAliases(List<String> keys) {
    return keys.stream().filter(k -> !k.startsWith("aliases/")).toList();
  }

  /** Two finalized deploys (production on the second), a deleted one, a projection object. */
  private Deploy[] populated() {
    Deploy first = finalizedDeploy(PROD, "v1");
    Deploy second = finalizedDeploy(PROD, "v2");
    Deploy third = finalizedDeploy(AliasName.PREVIEW, "v3");
    deploys.promote(SITE, second.id(), AliasName.PREVIEW, AliasExpectation.ANY);
    deploys.delete(SITE, third.id());
    // The projection the serve plane reads, as the alias-project workflow would write it.
    byte[] projection = "{}".getBytes(java.nio.charset.StandardCharsets.UTF_8);
    rawBlobs.put(
        BlobLayout.alias(SITE, PROD),
        new java.io.ByteArrayInputStream(projection),
        projection.length,
        dev.durabledeploy.spi.blob.BlobMetadata.ofType("application/json"));
    return new Deploy[] {first, second, third};
  }

  private List<String> eventTypes() {
    List<OutboxEvent> all = new ArrayList<>();
    while (true) {
      List<OutboxEvent> batch = store.outbox().claim("test", 1000, Duration.ofMinutes(5));
      if (batch.isEmpty()) {
        return all.stream().map(OutboxEvent::type).toList();
      }
      store.outbox().ack("test", batch.stream().map(OutboxEvent::id).toList());
      all.addAll(batch);
    }
  }

  @Test
  @DisplayName("purgeSite trashes: record TRASHED, bytes in the site trash, rows kept, restorable")
  void trash() {
    Deploy[] d = populated();
    List<String> liveBefore = keys(BlobLayout.site(SITE));
    eventTypes();
    SiteDeletion deletion = deploys.purgeSite(SITE);
    assertThat(deletion).isEqualTo(new SiteDeletion(2, 2, 1, clock.instant().plus(WINDOW)));
    Site record = plane.sites().find(SITE).orElseThrow();
    assertThat(record.state()).isEqualTo(SiteState.TRASHED);
    assertThat(record.purgeAfter()).isEqualTo(clock.instant().plus(WINDOW));
    assertThat(keys(BlobLayout.site(SITE))).isEmpty();
    // Everything but the alias projection, which is derived from the rows and projected again
    // by a restore.
    assertThat(keys(BlobLayout.siteTrash(SITE)))
        .containsExactlyElementsOf(withoutAliases(liveBefore));
    assertThat(keys(BlobLayout.trash(SITE))).isNotEmpty();
    assertThat(deploys.deploys(SITE)).extracting(Deploy::id).containsExactly(d[0].id(), d[1].id());
    assertThat(deploys.aliases(SITE)).hasSize(2);
    assertThat(eventTypes()).containsExactly(StandardEvents.SITE_UPDATED);
    assertThat(store.metadata().auditLog(SITE, 1).get(0).action()).isEqualTo("site.trash");
    // Idempotent: a second call changes nothing.
    assertThat(deploys.purgeSite(SITE)).isEqualTo(deletion);
    assertThat(eventTypes()).isEmpty();
  }

  @Test
  @DisplayName("a trashed site refuses every command but a restore or a purge, saying what to do")
  void trashedRefuses() {
    Deploy[] d = populated();
    deploys.purgeSite(SITE);
    List<org.assertj.core.api.ThrowableAssert.ThrowingCallable> refused =
        List.of(
            () -> deploys.init(SITE, null),
            () -> deploys.promote(SITE, d[0].id(), PROD, AliasExpectation.ANY),
            () -> deploys.rollback(SITE, PROD),
            () -> deploys.delete(SITE, d[0].id()),
            () -> deploys.restore(SITE, d[2].id()),
            () ->
                plane
                    .sites()
                    .update(SITE, dev.durabledeploy.spi.metadata.SiteProfile.of("x", "y"), 0));
    for (var call : refused) {
      assertThatThrownBy(call)
          .isInstanceOf(SiteStateException.class)
          .hasMessageContaining("site 'site-a' is trashed")
          .hasMessageContaining("restoreSite");
    }
    assertThat(keys(BlobLayout.site(SITE))).isEmpty();
    assertThat(plane.gc().run(SITE, false).trashed()).isEmpty();
  }

  @Test
  @DisplayName("restoreSite brings back the record, deploys, aliases, tombstones and every byte")
  void restore() {
    Deploy[] d = populated();
    List<String> liveBefore = keys(BlobLayout.site(SITE));
    var aliases = deploys.aliases(SITE);
    deploys.purgeSite(SITE);
    clock.advance(WINDOW.minusSeconds(1));
    eventTypes();
    Site restored = deploys.restoreSite(SITE);
    assertThat(restored.state()).isEqualTo(SiteState.ACTIVE);
    assertThat(restored.purgeAfter()).isNull();
    assertThat(restored.version()).isEqualTo(3);
    assertThat(keys(BlobLayout.site(SITE))).containsExactlyElementsOf(withoutAliases(liveBefore));
    assertThat(keys(BlobLayout.siteTrash(SITE))).isEmpty();
    assertThat(deploys.aliases(SITE)).isEqualTo(aliases);
    assertThat(deploys.trash(SITE)).extracting(t -> t.deployId()).containsExactly(d[2].id());
    // The projection comes back from the rows: one alias.changed per live alias.
    assertThat(eventTypes())
        .containsExactly(
            StandardEvents.SITE_UPDATED,
            StandardEvents.ALIAS_CHANGED,
            StandardEvents.ALIAS_CHANGED);
    // Usable again.
    Deploy next = finalizedDeploy(PROD, "v4");
    assertThat(plane.store().metadata().findAlias(SITE, PROD).orElseThrow().target())
        .isEqualTo(next.id());
    assertThat(deploys.restoreSite(SITE).state()).isEqualTo(SiteState.ACTIVE);
  }

  @Test
  @DisplayName("pending deploys are abandoned by the trash: gone after a restore, bytes too")
  void pendingAbandoned() {
    Deploy live = finalizedDeploy(PROD, "v1");
    Deploy pending = deploys.init(SITE, null);
    upload(pending.id(), "index.html", "draft");
    deploys.purgeSite(SITE);
    assertThatThrownBy(() -> upload(pending.id(), "more.html", "x"))
        .isInstanceOf(DeployNotFoundException.class);
    deploys.restoreSite(SITE);
    assertThat(deploys.deploys(SITE)).extracting(Deploy::id).containsExactly(live.id());
    assertThat(keys(BlobPrefix.ROOT)).noneMatch(k -> k.contains(pending.id().value()));
  }

  @Test
  @DisplayName("after the window: the restore is refused and the tombstone purge deletes it all")
  void expiry() {
    populated();
    deploys.purgeSite(SITE);
    clock.advance(WINDOW);
    assertThatThrownBy(() -> deploys.restoreSite(SITE))
        .isInstanceOf(SiteStateException.class)
        .hasMessageContaining("recovery window closed");
    eventTypes();
    TombstonePurge.Report report = plane.tombstonePurge().run();
    assertThat(report.sitesPurged()).isEqualTo(1);
    assertThat(plane.sites().find(SITE)).isEmpty();
    assertThat(keys(BlobPrefix.ROOT)).isEmpty();
    assertThat(deploys.deploys(SITE)).isEmpty();
    assertThat(deploys.aliases(SITE)).isEmpty();
    assertThat(deploys.trash(SITE)).isEmpty();
    assertThat(eventTypes()).contains(StandardEvents.SITE_DELETED);
    assertThatThrownBy(() -> deploys.restoreSite(SITE)).isInstanceOf(SiteNotFoundException.class);
    // The slug is free again.
    assertThat(deploys.init(SITE, null)).isNotNull();
  }

  @Test
  @DisplayName("the tombstone purge leaves trashed sites inside their window, and restored ones")
  void purgeRespectsWindow() {
    populated();
    deploys.purgeSite(SITE);
    clock.advance(WINDOW.minusSeconds(1));
    assertThat(plane.tombstonePurge().run().sitesPurged()).isZero();
    deploys.restoreSite(SITE);
    clock.advance(WINDOW);
    assertThat(plane.tombstonePurge().run().sitesPurged()).isZero();
    assertThat(plane.sites().find(SITE).orElseThrow().isActive()).isTrue();
  }

  @Test
  @DisplayName("purgeSiteNow deletes a trashed site for good, at once")
  void purgeNow() {
    populated();
    deploys.purgeSite(SITE);
    SiteDeletion gone = deploys.purgeSiteNow(SITE);
    assertThat(gone.restorableUntil()).isNull();
    assertThat(gone.deploys()).isEqualTo(2);
    assertThat(plane.sites().find(SITE)).isEmpty();
    assertThat(keys(BlobPrefix.ROOT)).isEmpty();
  }

  @Test
  @DisplayName("a trash that crashed before its byte move is finished by calling it again")
  void crashedTrash() {
    populated();
    // The check for an unfinished purge (1), the look for bytes (2), then after the record the
    // projection's deletion (3) and the move (4).
    blobs
        .failOnCall(4, FaultInjectingBlobStore.When.BEFORE)
        .throwing(() -> new IllegalStateException("crash"));
    assertThatThrownBy(() -> deploys.purgeSite(SITE)).hasMessageContaining("crash");
    blobs.heal();
    assertThat(plane.sites().find(SITE).orElseThrow().state()).isEqualTo(SiteState.TRASHED);
    assertThat(keys(BlobLayout.site(SITE))).isNotEmpty();
    deploys.purgeSite(SITE);
    assertThat(keys(BlobLayout.site(SITE))).isEmpty();
    assertThat(keys(BlobLayout.siteTrash(SITE))).isNotEmpty();
  }

  @Test
  @DisplayName("a restore that crashed before its byte move is finished by calling it again")
  void crashedRestore() {
    populated();
    List<String> liveBefore = keys(BlobLayout.site(SITE));
    deploys.purgeSite(SITE);
    // The check for an unfinished purge (1), then after the record the move back (2).
    blobs
        .failOnCall(2, FaultInjectingBlobStore.When.BEFORE)
        .throwing(() -> new IllegalStateException("crash"));
    assertThatThrownBy(() -> deploys.restoreSite(SITE)).hasMessageContaining("crash");
    blobs.heal();
    assertThat(plane.sites().find(SITE).orElseThrow().isActive()).isTrue();
    deploys.restoreSite(SITE);
    assertThat(keys(BlobLayout.site(SITE))).containsExactlyElementsOf(withoutAliases(liveBefore));
  }

  @Test
  @DisplayName("reconcile leaves a trashed site whole: no drift, and apply past grace drops no row")
  void reconcileTrashed() {
    Deploy[] d = populated();
    deploys.purgeSite(SITE);
    List<String> inTrash = keys(BlobLayout.siteTrash(SITE));
    clock.advance(Duration.ofDays(5));
    assertThat(plane.reconciler().reconcile(SITE, false).isClean()).isTrue();
    assertThat(plane.reconciler().reconcile(SITE, true).isClean()).isTrue();
    assertThat(plane.reconciler().detectAll()).allMatch(r -> r.isClean());
    assertThat(deploys.deploys(SITE)).extracting(Deploy::id).containsExactly(d[0].id(), d[1].id());
    assertThat(keys(BlobLayout.siteTrash(SITE))).isEqualTo(inTrash);
    deploys.restoreSite(SITE);
    assertThat(plane.reconciler().reconcile(SITE, false).isClean()).isTrue();
  }

  @Test
  @DisplayName("reconcile finishes a trash, and a restore, that crashed before their byte moves")
  void reconcileFinishes() {
    populated();
    List<String> liveBefore = withoutAliases(keys(BlobLayout.site(SITE)));
    blobs
        .failOnCall(4, FaultInjectingBlobStore.When.BEFORE)
        .throwing(() -> new IllegalStateException("crash"));
    assertThatThrownBy(() -> deploys.purgeSite(SITE)).hasMessageContaining("crash");
    blobs.heal();
    var report = plane.reconciler().reconcile(SITE, false);
    assertThat(report.counts())
        .containsOnlyKeys(dev.durabledeploy.core.reconcile.DriftKind.SITE_TRASH_UNFINISHED);
    assertThat(plane.reconciler().reconcile(SITE, true).repaired()).hasSize(1);
    assertThat(keys(BlobLayout.site(SITE))).isEmpty();
    assertThat(keys(BlobLayout.siteTrash(SITE))).containsExactlyElementsOf(liveBefore);

    blobs
        .failOnCall(2, FaultInjectingBlobStore.When.BEFORE)
        .throwing(() -> new IllegalStateException("crash"));
    assertThatThrownBy(() -> deploys.restoreSite(SITE)).hasMessageContaining("crash");
    blobs.heal();
    assertThat(plane.reconciler().reconcile(SITE, false).counts())
        .containsOnlyKeys(dev.durabledeploy.core.reconcile.DriftKind.SITE_TRASH_UNFINISHED);
    plane.reconciler().reconcile(SITE, true);
    assertThat(keys(BlobLayout.site(SITE))).containsExactlyElementsOf(liveBefore);
    assertThat(keys(BlobLayout.siteTrash(SITE))).isEmpty();
    assertThat(plane.reconciler().reconcile(SITE, false).isClean()).isTrue();
  }

  @Test
  @DisplayName("an unregistered, empty site: purgeSite is a no-op, restoreSite says not registered")
  void nothingThere() {
    assertThat(deploys.purgeSite(SITE)).isEqualTo(new SiteDeletion(0, 0, 0));
    assertThat(plane.sites().find(SITE)).isEmpty();
    assertThatThrownBy(() -> deploys.restoreSite(SITE))
        .isInstanceOf(SiteNotFoundException.class)
        .hasMessageContaining("site 'site-a' is not registered");
  }
}
