package dev.durabledeploy.core.reconcile;

import static org.assertj.core.api.Assertions.assertThat;

import dev.durabledeploy.core.CoreFixture;
import dev.durabledeploy.core.DeployOptions;
import dev.durabledeploy.core.deploy.BlobLayout;
import dev.durabledeploy.core.deploy.Marker;
import dev.durabledeploy.core.metadata.MetadataCommands;
import dev.durabledeploy.spi.Actor;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.blob.BlobKey;
import dev.durabledeploy.spi.blob.BlobMetadata;
import dev.durabledeploy.spi.blob.BlobPrefix;
import dev.durabledeploy.spi.metadata.Deploy;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

@DisplayName("Reconciler (E6)")
class ReconcilerTest extends CoreFixture {

  private static final AliasName PREVIEW_ALIAS = AliasName.PREVIEW;
  private int blastCap = 100;

  @Override
  protected DeployOptions options() {
    return DeployOptions.builder().blastCap(blastCap).build();
  }

  private void put(String key, String content) {
    byte[] bytes = content.getBytes(StandardCharsets.UTF_8);
    rawBlobs.put(
        BlobKey.of(key), new ByteArrayInputStream(bytes), bytes.length, BlobMetadata.binary());
  }

  private DeployId idAt(Instant at, int n) {
    return DeployId.forSha(at, String.format("%07x", n));
  }

  private void marker(DeployId id) {
    byte[] json = Marker.of(SITE, id, null, id.createdAt(), 1).toJson();
    rawBlobs.put(
        BlobLayout.marker(SITE, id),
        new ByteArrayInputStream(json),
        json.length,
        BlobMetadata.binary());
  }

  private DriftReport report() {
    return plane.reconciler().reconcile(SITE, false);
  }

  @Nested
  @DisplayName("finds every kind of drift")
  class Finds {

    @Test
    @DisplayName("a consistent site has none")
    void clean() {
      finalizedDeploy(PROD, "v1");
      Deploy v2 = finalizedDeploy(PROD, "v2");
      deploys.delete(SITE, deploys.deploys(SITE).get(0).id());
      assertThat(report().drifts()).isEmpty();
      assertThat(v2.isActive()).isTrue();
    }

    @Test
    @DisplayName("bytes without a row, marked or not")
    void bytesWithoutRow() {
      DeployId unmarked = idAt(clock.instant(), 1);
      DeployId marked = idAt(clock.instant(), 2);
      put(BlobLayout.deploy(SITE, unmarked).resolve("index.html").value(), "x");
      put(BlobLayout.deploy(SITE, marked).resolve("index.html").value(), "x");
      marker(marked);
      assertThat(report().drifts())
          .containsExactlyInAnyOrder(
              new Drift(
                  DriftKind.BYTES_WITHOUT_ROW, unmarked.value(), "unfinished upload without a row"),
              new Drift(
                  DriftKind.MARKED_PREFIX_UNKNOWN, marked.value(), "finalized bytes without a row"),
              new Drift(
                  DriftKind.SITE_NOT_INDEXED,
                  SITE.value(),
                  "no row in the index; the bucket holds 1 marked deploy prefix(es) to adopt"));
    }

    @Test
    @DisplayName("an upload abandoned before its first byte, then deleted, is not drift")
    void deletedEmptyPendingDeploy() {
      // Found by the reliability harness: init, the upload fails, GC (or a user) deletes the
      // pending deploy. There were never bytes, so its tombstone has no trash, and that is fine.
      Deploy abandoned = deploys.init(SITE, null);
      deploys.delete(SITE, abandoned.id());
      assertThat(report().drifts()).isEmpty();
    }

    @Test
    @DisplayName("a row without bytes, a tombstone without trash and trash without a tombstone")
    void missingBytes() {
      Deploy v1 = finalizedDeploy(PROD, "v1");
      Deploy v2 = finalizedDeploy(PROD, "v2");
      deploys.delete(SITE, v1.id());
      rawBlobs.deletePrefix(BlobLayout.deploy(SITE, v2.id()));
      rawBlobs.deletePrefix(BlobLayout.trash(SITE, v1.id()));
      DeployId orphan = idAt(clock.instant(), 9);
      put(BlobLayout.trash(SITE, orphan).resolve("x").value(), "x");
      assertThat(report().counts())
          .containsEntry(DriftKind.ROW_WITHOUT_BYTES, 1)
          .containsEntry(DriftKind.TOMBSTONE_WITHOUT_TRASH, 1)
          .containsEntry(DriftKind.TRASH_WITHOUT_TOMBSTONE, 1);
    }

    @Test
    @DisplayName("half-done deletes and restores, and an alias to a missing deploy")
    void halfDone() {
      Deploy v1 = finalizedDeploy(PROD, "v1");
      Deploy v2 = finalizedDeploy(PROD, "v2");
      new MetadataCommands(store.metadata())
          .tombstone(SITE, v1.id(), Duration.ofDays(7), Actor.SYSTEM); // crash before move
      rawBlobs.put(
          BlobLayout.trash(SITE, v2.id()).resolve("stray.txt"),
          new ByteArrayInputStream(new byte[1]),
          1,
          BlobMetadata.binary());
      assertThat(report().counts())
          .containsEntry(DriftKind.TOMBSTONE_WITH_LIVE_BYTES, 1)
          .containsEntry(DriftKind.ROW_WITH_TRASH_BYTES, 1);
    }

    @Test
    @DisplayName("a prefix in another form than the index's ids is reported, never invisible")
    void namingMismatch() {
      Deploy v1 = finalizedDeploy(PROD, "v1");
      // The seed's defect: a listing whose names differ in form from the index's ids (here upper
      // case and a nested path) made every comparison miss. Parsed ids make them visible.
      put(
          "site-a/deploys/" + v1.id().value().toUpperCase(java.util.Locale.ROOT) + "/index.html",
          "x");
      put("site-a/deploys/site-a/deploys/" + v1.id().value() + "/index.html", "x");
      put("site-a/deploys/loose-file.txt", "x");
      assertThat(report().drifts())
          .filteredOn(d -> d.kind() == DriftKind.UNRECOGNIZED_PREFIX)
          .extracting(Drift::subject)
          .containsExactlyInAnyOrder(
              "site-a/deploys/" + v1.id().value().toUpperCase(java.util.Locale.ROOT) + "/",
              "site-a/deploys/site-a/",
              "site-a/deploys/loose-file.txt");
    }
  }

  @Nested
  @DisplayName("finds finalized deploys whose bytes changed, and finalizes that did not finish")
  class Content {

    @Test
    @DisplayName("a finalized deploy whose bytes are as verified, also after delete and restore")
    void unchanged() {
      Deploy v1 = finalizedDeploy(PREVIEW_ALIAS, "v1");
      finalizedDeploy(PREVIEW_ALIAS, "v2");
      deploys.delete(SITE, v1.id());
      deploys.restore(SITE, v1.id());
      assertThat(report().drifts()).isEmpty();
    }

    @Test
    @DisplayName(
        "other bytes, another size or a missing file are CONTENT_CHANGED, reported and never"
            + " repaired")
    void changed() {
      Deploy v1 = finalizedDeploy(PROD, "v1");
      BlobPrefix prefix = BlobLayout.deploy(SITE, v1.id());
      put(prefix.resolve("app.js").value(), "console.log('v1')".replace('1', '2'));
      assertThat(report().drifts())
          .singleElement()
          .satisfies(
              d -> {
                assertThat(d.kind()).isEqualTo(DriftKind.CONTENT_CHANGED);
                assertThat(d.subject()).isEqualTo(v1.id().value() + "/app.js");
                assertThat(d.detail()).contains("SHA-256");
              });
      put(prefix.resolve("index.html").value(), "<h1>longer</h1>");
      rawBlobs.delete(prefix.resolve("app.js"));
      assertThat(report().drifts())
          .extracting(Drift::kind, Drift::detail)
          .containsExactlyInAnyOrder(
              org.assertj.core.groups.Tuple.tuple(
                  DriftKind.CONTENT_CHANGED, "verified by finalize, now gone"),
              org.assertj.core.groups.Tuple.tuple(
                  DriftKind.CONTENT_CHANGED, "size 11 verified, 15 stored"));
      clock.advance(Duration.ofDays(30));
      DriftReport applied = plane.reconciler().reconcile(SITE, true);
      assertThat(applied.repaired())
          .extracting(Drift::kind)
          .doesNotContain(DriftKind.CONTENT_CHANGED);
      assertThat(rawBlobs.listAll(prefix)).hasSize(2);
    }

    @Test
    @DisplayName("a finalize that crashed is FINALIZE_UNFINISHED; apply unseals it to PENDING")
    void unfinishedFinalize() {
      Deploy d = deploys.init(SITE, null);
      upload(d.id(), "index.html", "x");
      blobs
          .failOnCall(2, dev.durabledeploy.testkit.FaultInjectingBlobStore.When.AFTER)
          .throwing(() -> new IllegalStateException("crash after the marker"));
      org.assertj.core.api.Assertions.assertThatThrownBy(
              () ->
                  deploys.finalizeDeploy(
                      SITE, d.id(), PROD, dev.durabledeploy.core.deploy.Manifest.of("index.html")))
          .hasMessageContaining("crash");
      blobs.heal();
      assertThat(report().drifts())
          .containsExactly(
              new Drift(
                  DriftKind.FINALIZE_UNFINISHED,
                  d.id().value(),
                  "a finalize crashed after writing its marker"));
      assertThat(plane.reconciler().reconcile(SITE, true).repaired()).hasSize(1);
      assertThat(store.metadata().findDeploy(SITE, d.id()).orElseThrow().isPending()).isTrue();
      assertThat(report().drifts()).isEmpty();
      deploys.finalizeDeploy(
          SITE, d.id(), PROD, dev.durabledeploy.core.deploy.Manifest.of("index.html"));
      assertThat(report().drifts()).isEmpty();
    }
  }

  @Nested
  @DisplayName("repairs with apply")
  class Repairs {

    @Test
    @DisplayName("adopts marked prefixes and finishes half-done deletes and restores")
    void safeRepairs() {
      Deploy v1 = finalizedDeploy(PROD, "v1");
      Deploy v2 = finalizedDeploy(PROD, "v2");
      new MetadataCommands(store.metadata())
          .tombstone(SITE, v1.id(), Duration.ofDays(7), Actor.SYSTEM);
      DeployId marked = idAt(clock.instant(), 3);
      put(BlobLayout.deploy(SITE, marked).resolve("index.html").value(), "x");
      marker(marked);
      DriftReport applied = plane.reconciler().reconcile(SITE, true);
      assertThat(applied.repaired()).hasSize(2);
      assertThat(rawBlobs.listAll(BlobLayout.deploy(SITE, v1.id()))).isEmpty();
      assertThat(rawBlobs.listAll(BlobLayout.trash(SITE, v1.id()))).isNotEmpty();
      assertThat(store.metadata().findDeploy(SITE, marked)).isPresent();
      assertThat(report().drifts()).isEmpty();
      assertThat(v2.isActive()).isTrue();
    }

    @Test
    @DisplayName("destroys abandoned bytes only past grace")
    void grace() {
      DeployId fresh = idAt(clock.instant(), 1);
      put(BlobLayout.deploy(SITE, fresh).resolve("index.html").value(), "x");
      DriftReport early = plane.reconciler().reconcile(SITE, true);
      assertThat(early.deferred()).hasSize(1);
      assertThat(rawBlobs.listAll(BlobLayout.deploy(SITE, fresh))).isNotEmpty();
      clock.advance(DeployOptions.DEFAULT_GRACE);
      DriftReport late = plane.reconciler().reconcile(SITE, true);
      assertThat(late.repaired()).hasSize(1);
      assertThat(rawBlobs.listAll(BlobLayout.deploy(SITE, fresh))).isEmpty();
      assertThat(report().isClean()).isTrue();
    }

    @Test
    @DisplayName("honours the blast cap for destructive repairs")
    void blastCap() {
      plane.close();
      blastCap = 2;
      buildPlane();
      for (int i = 0; i < 5; i++) {
        put(BlobLayout.deploy(SITE, idAt(clock.instant(), i)).resolve("a").value(), "x");
      }
      clock.advance(Duration.ofDays(4));
      DriftReport applied = plane.reconciler().reconcile(SITE, true);
      assertThat(applied.repaired()).hasSize(2);
      assertThat(applied.deferred()).hasSize(3);
    }

    @Test
    @DisplayName("refuses to repair when the bucket lists nothing but the index has deploys")
    void emptyListing() {
      Deploy v1 = finalizedDeploy(PROD, "v1");
      finalizedDeploy(AliasName.PREVIEW, "v2");
      rawBlobs.deletePrefix(BlobPrefix.ROOT);
      clock.advance(Duration.ofDays(30));
      DriftReport applied = plane.reconciler().reconcile(SITE, true);
      assertThat(applied.refusal()).contains("lists nothing");
      assertThat(applied.repaired()).isEmpty();
      assertThat(store.metadata().findDeploy(SITE, v1.id())).isPresent();
    }

    @Test
    @DisplayName(
        "finishes a site purge that crashed after the rows: the bytes go, nothing is adopted back")
    void finishesPurgeCrashedBeforeTheBytes() {
      Deploy v1 = finalizedDeploy(PROD, "v1");
      crashedPurge();
      DriftReport found = plane.reconciler().reconcile(SITE, false);
      assertThat(found.counts()).containsEntry(DriftKind.PURGE_UNFINISHED, 1);
      assertThat(plane.backfill().site(SITE).adopted()).isZero();
      DriftReport applied = plane.reconciler().reconcile(SITE, true);
      assertThat(applied.refusal()).isNull();
      assertThat(applied.repaired()).isEqualTo(found.drifts());
      assertThat(rawBlobs.listAll(BlobLayout.deploy(SITE, v1.id()))).isEmpty();
      assertThat(rawBlobs.listAll(BlobLayout.site(SITE))).isEmpty();
      assertThat(store.metadata().listDeploys(SITE)).isEmpty();
      assertThat(plane.reconciler().reconcile(SITE, true).isClean()).isTrue();
    }

    @Test
    @DisplayName("finishes a site purge that crashed after the bytes, though the listing is empty")
    void finishesCrashedPurge() {
      finalizedDeploy(PROD, "v1");
      crashedPurgeAfterTheBytes();
      DriftReport found = plane.reconciler().reconcile(SITE, false);
      assertThat(found.counts()).containsEntry(DriftKind.PURGE_UNFINISHED, 1);
      DriftReport applied = plane.reconciler().reconcile(SITE, true);
      assertThat(applied.refusal()).isNull();
      assertThat(applied.repaired()).isEqualTo(found.drifts());
      assertThat(store.metadata().listDeploys(SITE)).isEmpty();
      assertThat(store.metadata().listAliases(SITE)).isEmpty();
      assertThat(plane.reconciler().reconcile(SITE, true).isClean()).isTrue();
    }

    @Test
    @DisplayName("drops a row whose bytes are gone, unless an alias targets it")
    void rowWithoutBytes() {
      Deploy v1 = finalizedDeploy(PROD, "v1");
      Deploy v2 = finalizedDeploy(AliasName.PREVIEW, "v2");
      finalizedDeploy(AliasName.of("staging"), "v3"); // keeps the bucket non-empty
      rawBlobs.deletePrefix(BlobLayout.deploy(SITE, v1.id()));
      rawBlobs.deletePrefix(BlobLayout.deploy(SITE, v2.id()));
      new MetadataCommands(store.metadata())
          .moveAlias(
              SITE,
              PROD,
              v2.id(),
              dev.durabledeploy.spi.metadata.AliasExpectation.ANY,
              Actor.SYSTEM);
      clock.advance(Duration.ofDays(4));
      DriftReport applied = plane.reconciler().reconcile(SITE, true);
      assertThat(store.metadata().findDeploy(SITE, v1.id())).isEmpty();
      assertThat(store.metadata().findDeploy(SITE, v2.id())).isPresent();
      assertThat(applied.deferred()).extracting(Drift::subject).contains(v2.id().value());
    }
  }

  @Nested
  @DisplayName("sees the whole bucket")
  class WholeBucket {

    private final dev.durabledeploy.spi.SiteId other =
        dev.durabledeploy.spi.SiteId.of("site-only-in-bucket");

    private void projection(AliasName alias, String json) {
      put(BlobLayout.alias(SITE, alias).value(), json);
    }

    private String projected(AliasName alias) {
      try (var c = rawBlobs.get(BlobLayout.alias(SITE, alias)).orElseThrow()) {
        return new String(c.readAllBytes(), StandardCharsets.UTF_8);
      }
    }

    @Test
    @DisplayName("a site only the bucket knows is SITE_NOT_INDEXED; apply adopts it by backfill")
    void siteOnlyInBucket() {
      DeployId marked = idAt(clock.instant(), 1);
      byte[] json = Marker.of(other, marked, null, marked.createdAt(), 1).toJson();
      put(BlobLayout.deploy(other, marked).resolve("index.html").value(), "x");
      rawBlobs.put(
          BlobLayout.marker(other, marked),
          new ByteArrayInputStream(json),
          json.length,
          BlobMetadata.binary());

      assertThat(plane.reconciler().detectAll())
          .singleElement()
          .satisfies(r -> assertThat(r.site()).isEqualTo(other))
          .extracting(DriftReport::drifts)
          .asList()
          .contains(
              new Drift(
                  DriftKind.SITE_NOT_INDEXED,
                  other.value(),
                  "no row in the index; the bucket holds 1 marked deploy prefix(es) to adopt"));
      DriftReport applied = plane.reconciler().reconcile(other, true);
      assertThat(applied.repaired())
          .extracting(Drift::kind)
          .containsExactlyInAnyOrder(DriftKind.SITE_NOT_INDEXED, DriftKind.MARKED_PREFIX_UNKNOWN);
      assertThat(store.metadata().findDeploy(other, marked).orElseThrow().isActive()).isTrue();
      assertThat(plane.reconciler().reconcile(other, false).isClean()).isTrue();
    }

    @Test
    @DisplayName("a site only the bucket knows whose markers are unreadable is deferred, untouched")
    void siteOnlyInBucketUnreadable() {
      DeployId marked = idAt(clock.instant(), 1);
      put(BlobLayout.deploy(other, marked).resolve("index.html").value(), "x");
      put(BlobLayout.marker(other, marked).value(), "not a marker");
      clock.advance(Duration.ofDays(30));
      DriftReport applied = plane.reconciler().reconcile(other, true);
      assertThat(applied.repaired()).isEmpty();
      assertThat(applied.deferred())
          .extracting(Drift::kind)
          .containsExactlyInAnyOrder(DriftKind.SITE_NOT_INDEXED, DriftKind.MARKED_PREFIX_UNKNOWN);
      assertThat(rawBlobs.listAll(BlobLayout.deploy(other, marked))).hasSize(2);
      assertThat(store.metadata().listDeploys(other)).isEmpty();
    }

    /** Starts the plane and waits until the relay delivered every event (alias-project ran). */
    private void drained() {
      plane.start();
      org.awaitility.Awaitility.await()
          .atMost(Duration.ofSeconds(20))
          .until(() -> store.outbox().stats().undelivered() == 0);
    }

    @Test
    @DisplayName(
        "an alias projection missing or behind its row is drift once its event was delivered;"
            + " apply re-projects it")
    void missingAndStaleProjection() {
      Deploy v1 = finalizedDeploy(PROD, "v1");
      rawBlobs.delete(BlobLayout.alias(SITE, PROD));
      // The plane is not started: the alias.changed event is still on its way.
      clock.advance(Duration.ofDays(30));
      assertThat(report().drifts()).isEmpty();
      drained();
      rawBlobs.delete(BlobLayout.alias(SITE, PROD));
      assertThat(report().drifts())
          .containsExactly(
              new Drift(
                  DriftKind.ALIAS_PROJECTION_MISSING,
                  "alias:production",
                  "the row targets " + v1.id() + " at version 1; no projection object"));
      assertThat(plane.reconciler().reconcile(SITE, true).repaired()).hasSize(1);
      assertThat(projected(PROD)).isEqualTo("{\"deployId\":\"" + v1.id() + "\",\"version\":1}");
      assertThat(report().isClean()).isTrue();

      projection(PROD, "{\"deployId\":\"" + v1.id() + "\",\"version\":0}");
      assertThat(report().drifts())
          .extracting(Drift::kind)
          .containsExactly(DriftKind.ALIAS_PROJECTION_STALE);
      plane.reconciler().reconcile(SITE, true);
      assertThat(projected(PROD)).contains("\"version\":1");
      assertThat(report().isClean()).isTrue();
    }

    @Test
    @DisplayName("a projection pointing at another target than its row is drift at once")
    void projectionToAnotherTarget() {
      Deploy v1 = finalizedDeploy(PROD, "v1");
      Deploy v2 = finalizedDeploy(PREVIEW_ALIAS, "v2");
      // Same version as the row, another target: no event on its way explains that.
      projection(PROD, "{\"deployId\":\"" + v2.id() + "\",\"version\":1}");
      projection(PREVIEW_ALIAS, "{\"deployId\":\"" + v2.id() + "\",\"version\":1}");
      assertThat(report().drifts())
          .containsExactly(
              new Drift(
                  DriftKind.ALIAS_PROJECTION_STALE,
                  "alias:production",
                  "the row targets "
                      + v1.id()
                      + " at version 1; the projection "
                      + v2.id()
                      + " at version 1"));
      assertThat(plane.reconciler().reconcile(SITE, true).repaired()).hasSize(1);
      assertThat(projected(PROD)).contains(v1.id().value());
      assertThat(report().isClean()).isTrue();
    }

    @Test
    @DisplayName(
        "a projection of a deleted alias that still names a target is drift; apply projects the"
            + " deletion, but never over an alias only the projection records")
    void orphanProjection() {
      Deploy v1 = finalizedDeploy(PROD, "v1");
      projection(PROD, "{\"deployId\":\"" + v1.id() + "\",\"version\":1}");
      AliasName gone = AliasName.of("gone");
      MetadataCommands commands = new MetadataCommands(store.metadata());
      commands.moveAlias(
          SITE, gone, v1.id(), dev.durabledeploy.spi.metadata.AliasExpectation.ANY, Actor.SYSTEM);
      commands.deleteAlias(
          SITE, gone, dev.durabledeploy.spi.metadata.AliasExpectation.ANY, Actor.SYSTEM);
      projection(gone, "{\"deployId\":\"" + v1.id() + "\",\"version\":1}");
      AliasName ghost = AliasName.of("ghost");
      projection(ghost, "{\"deployId\":\"" + v1.id() + "\",\"version\":4}");
      // A deleted alias stays projected as a deletion: not drift.
      projection(AliasName.of("long-gone"), "{\"deployId\":null,\"version\":2}");
      Drift ghostDrift =
          new Drift(
              DriftKind.ALIAS_PROJECTION_ORPHAN,
              "alias:ghost",
              "the projection targets "
                  + v1.id()
                  + " at version 4; no alias row ever, the projection is its only record");
      // The deletion of "gone" is still on its way; no event will ever come for "ghost".
      assertThat(report().drifts()).containsExactly(ghostDrift);
      drained();
      // Delivered, and past the time its alias-project run may still take.
      clock.advance(Reconciler.PROJECTION_LAG);
      projection(gone, "{\"deployId\":\"" + v1.id() + "\",\"version\":1}");
      assertThat(report().drifts())
          .containsExactlyInAnyOrder(
              new Drift(
                  DriftKind.ALIAS_PROJECTION_ORPHAN,
                  "alias:gone",
                  "the projection targets "
                      + v1.id()
                      + " at version 1; the alias was deleted at version 2"),
              ghostDrift);
      DriftReport applied = plane.reconciler().reconcile(SITE, true);
      assertThat(applied.repaired()).extracting(Drift::subject).containsExactly("alias:gone");
      assertThat(applied.deferred()).containsExactly(ghostDrift);
      assertThat(projected(gone)).isEqualTo("{\"deployId\":null,\"version\":2}");
      assertThat(projected(ghost)).contains(v1.id().value());
      assertThat(report().drifts()).containsExactly(ghostDrift);
    }

    @Test
    @DisplayName(
        "orphan bytes past grace go to trash under a tombstone: restorable, then purged after the"
            + " recovery window")
    void orphanBytesAreTrashedRestorably() {
      finalizedDeploy(PROD, "v1");
      DeployId abandoned = idAt(clock.instant(), 7);
      put(BlobLayout.deploy(SITE, abandoned).resolve("index.html").value(), "x");
      clock.advance(DeployOptions.DEFAULT_GRACE);
      DriftReport applied = plane.reconciler().reconcile(SITE, true);
      assertThat(applied.repaired()).extracting(Drift::kind).contains(DriftKind.BYTES_WITHOUT_ROW);
      assertThat(rawBlobs.listAll(BlobLayout.deploy(SITE, abandoned))).isEmpty();
      assertThat(rawBlobs.listAll(BlobLayout.trash(SITE, abandoned))).hasSize(1);
      assertThat(store.metadata().findTombstone(SITE, abandoned).orElseThrow().deploy().state())
          .isEqualTo(dev.durabledeploy.spi.metadata.DeployState.PENDING);
      assertThat(report().counts()).doesNotContainKey(DriftKind.BYTES_WITHOUT_ROW);

      Deploy restored = deploys.restore(SITE, abandoned);
      assertThat(restored.isPending()).isTrue();
      assertThat(rawBlobs.listAll(BlobLayout.deploy(SITE, abandoned))).hasSize(1);

      deploys.delete(SITE, abandoned);
      clock.advance(DeployOptions.DEFAULT_RECOVERY_WINDOW);
      plane.tombstonePurge().run();
      assertThat(rawBlobs.listAll(BlobLayout.trash(SITE, abandoned))).isEmpty();
      assertThat(store.metadata().findTombstone(SITE, abandoned)).isEmpty();
    }

    @Test
    @DisplayName(
        "trash without a tombstone gets one past grace, restorable as what its marker says")
    void trashWithoutTombstoneGetsOne() {
      finalizedDeploy(PROD, "v1");
      DeployId lost = idAt(clock.instant(), 8);
      put(BlobLayout.trash(SITE, lost).resolve("index.html").value(), "x");
      byte[] json = Marker.of(SITE, lost, null, lost.createdAt(), 1).toJson();
      rawBlobs.put(
          BlobLayout.trash(SITE, lost).resolve(BlobLayout.MARKER_NAME),
          new ByteArrayInputStream(json),
          json.length,
          BlobMetadata.binary());
      clock.advance(DeployOptions.DEFAULT_GRACE);
      assertThat(plane.reconciler().reconcile(SITE, true).repaired())
          .extracting(Drift::kind)
          .contains(DriftKind.TRASH_WITHOUT_TOMBSTONE);
      assertThat(rawBlobs.listAll(BlobLayout.trash(SITE, lost))).hasSize(2);
      assertThat(report().counts()).doesNotContainKey(DriftKind.TRASH_WITHOUT_TOMBSTONE);
      assertThat(deploys.restore(SITE, lost).isActive()).isTrue();
      assertThat(rawBlobs.listAll(BlobLayout.deploy(SITE, lost))).hasSize(2);
    }
  }

  @Test
  @DisplayName("drift-detect reports every site and publishes the counts as gauges")
  void detectAll() {
    finalizedDeploy(PROD, "v1");
    put(BlobLayout.deploy(SITE, idAt(clock.instant(), 5)).resolve("a").value(), "x");
    assertThat(plane.reconciler().detectAll()).hasSize(1);
    assertThat(meters.get("durable.drift").tag("kind", "bytes_without_row").gauge().value())
        .isEqualTo(1.0);
  }
}
