package dev.durabledeploy.core.foreign;

import static org.assertj.core.api.Assertions.assertThat;

import dev.durabledeploy.core.CoreFixture;
import dev.durabledeploy.core.DeployOptions;
import dev.durabledeploy.core.deploy.BlobLayout;
import dev.durabledeploy.core.deploy.Manifest;
import dev.durabledeploy.core.deploy.Marker;
import dev.durabledeploy.core.gc.GcReport;
import dev.durabledeploy.core.purge.TombstonePurge;
import dev.durabledeploy.core.reconcile.Backfill;
import dev.durabledeploy.core.reconcile.Drift;
import dev.durabledeploy.core.reconcile.DriftKind;
import dev.durabledeploy.core.reconcile.DriftReport;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.blob.BlobKey;
import dev.durabledeploy.spi.blob.BlobMetadata;
import dev.durabledeploy.spi.blob.BlobPage;
import dev.durabledeploy.spi.blob.BlobPrefix;
import dev.durabledeploy.spi.blob.ForeignBlob;
import dev.durabledeploy.spi.metadata.Deploy;
import java.io.ByteArrayInputStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every saga of the core completes on a prefix that holds an object under a key the library would
 * never write, and the reconciler reports it. Each scenario runs once per kind of foreign key: a
 * subclass says which kinds its blob store can hold ({@code kinds()}, a static method source) and
 * how another writer plants one ({@link #plant}). A kind is the tail of the raw key after a prefix:
 * {@code ""} makes the prefix itself a console "folder" object, {@code "/x.html"} an empty segment,
 * and the others a control character or a backslash.
 */
abstract class ForeignKeyScenarios extends CoreFixture {

  @Override
  protected DeployOptions options() {
    return DeployOptions.builder().keepLatest(1).build();
  }

  /** Writes an object under {@code rawKey} behind the library's back, as another writer would. */
  protected abstract void plant(String rawKey);

  private List<String> foreignUnder(BlobPrefix prefix) {
    List<String> keys = new ArrayList<>();
    BlobKey after = null;
    do {
      BlobPage page = plane.blobs().list(prefix, after, 1000);
      page.foreign().forEach(f -> keys.add(f.rawKey()));
      after = page.next();
    } while (after != null);
    return keys;
  }

  private void putValid(BlobKey key, byte[] bytes) {
    plane.blobs().put(key, new ByteArrayInputStream(bytes), bytes.length, BlobMetadata.binary());
  }

  /** Six finalized deploys, the newest aliased, then the clock moved past retention. */
  private List<Deploy> oldSite() {
    List<Deploy> all = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      all.add(finalizedDeploy(PROD, "v" + i));
      clock.advance(Duration.ofMinutes(1));
    }
    clock.advance(Duration.ofDays(10));
    return all;
  }

  @ParameterizedTest(name = "foreign key tail {index}")
  @MethodSource("kinds")
  @DisplayName("GC trashes a deploy holding a foreign object and the tombstone purge removes it")
  void gcAndTombstonePurge(String kind) {
    List<Deploy> old = oldSite();
    DeployId first = old.get(0).id();
    plant(BlobLayout.deploy(SITE, first).value() + kind);
    GcReport report = plane.gc().run(SITE, false);
    assertThat(report.trashed()).hasSize(5).contains(first);
    assertThat(foreignUnder(BlobLayout.deploy(SITE, first))).isEmpty();
    assertThat(foreignUnder(BlobLayout.trash(SITE, first)))
        .containsExactly(BlobLayout.trash(SITE, first).value() + kind);
    clock.advance(DeployOptions.defaults().recoveryWindow().plusDays(1));
    TombstonePurge.Report purge = plane.tombstonePurge().run();
    assertThat(purge.purged()).isEqualTo(5);
    assertThat(purge.failedBatches()).isZero();
    assertThat(foreignUnder(BlobLayout.trash(SITE))).isEmpty();
    assertThat(plane.blobs().listAll(BlobLayout.trash(SITE))).isEmpty();
  }

  @ParameterizedTest(name = "foreign key tail {index}")
  @MethodSource("kinds")
  @DisplayName("delete and restore move a foreign object with its deploy")
  void deleteAndRestore(String kind) {
    finalizedDeploy(PROD, "v1");
    Deploy v1 = deploys.deploys(SITE).get(0);
    finalizedDeploy(PROD, "v2");
    plant(BlobLayout.deploy(SITE, v1.id()).value() + kind);
    deploys.delete(SITE, v1.id());
    assertThat(foreignUnder(BlobLayout.trash(SITE, v1.id())))
        .containsExactly(BlobLayout.trash(SITE, v1.id()).value() + kind);
    deploys.restore(SITE, v1.id());
    assertThat(foreignUnder(BlobLayout.deploy(SITE, v1.id())))
        .containsExactly(BlobLayout.deploy(SITE, v1.id()).value() + kind);
    assertThat(foreignUnder(BlobLayout.trash(SITE))).isEmpty();
  }

  @ParameterizedTest(name = "foreign key tail {index}")
  @MethodSource("kinds")
  @DisplayName("purgeSite removes foreign objects too, so none of the site's bytes remain")
  void purgeSite(String kind) {
    Deploy v1 = finalizedDeploy(PROD, "v1");
    finalizedDeploy(PROD, "v2");
    deploys.delete(SITE, v1.id());
    plant(BlobLayout.site(SITE).value() + kind);
    plant(BlobLayout.deploys(SITE).value() + kind);
    plant(BlobLayout.trash(SITE, v1.id()).value() + kind);
    deploys.purgeSiteNow(SITE);
    assertThat(foreignUnder(BlobLayout.site(SITE))).isEmpty();
    assertThat(foreignUnder(BlobLayout.trash(SITE))).isEmpty();
    assertThat(plane.blobs().listAll(BlobLayout.site(SITE))).isEmpty();
    assertThat(deploys.deploys(SITE)).isEmpty();
  }

  @ParameterizedTest(name = "foreign key tail {index}")
  @MethodSource("kinds")
  @DisplayName("the reconciler reports each foreign object, rendered safely, and repairs around it")
  void reconcile(String kind) {
    Deploy v1 = finalizedDeploy(PROD, "v1");
    Deploy v2 = finalizedDeploy(PROD, "v2");
    deploys.delete(SITE, v1.id());
    List<String> planted =
        List.of(
            BlobLayout.deploy(SITE, v2.id()).value() + kind,
            BlobLayout.deploys(SITE).value() + kind,
            BlobLayout.trash(SITE, v1.id()).value() + kind);
    planted.forEach(this::plant);

    DriftReport report = plane.reconciler().reconcile(SITE, false);
    assertThat(report.drifts())
        .extracting(Drift::kind, Drift::subject)
        .containsExactlyInAnyOrderElementsOf(
            planted.stream()
                .map(k -> org.assertj.core.groups.Tuple.tuple(DriftKind.FOREIGN_KEY, render(k)))
                .toList());
    for (Drift drift : report.drifts()) {
      assertThat(drift.subject() + drift.detail()).doesNotContain("\n", "\u0001");
      assertThat(drift.detail()).isNotEmpty();
    }

    DriftReport applied = plane.reconciler().reconcile(SITE, true);
    assertThat(applied.refusal()).isNull();
    assertThat(applied.repaired()).isEmpty();
    assertThat(foreignUnder(BlobLayout.deploys(SITE))).hasSize(2);
    assertThat(foreignUnder(BlobLayout.trash(SITE))).hasSize(1);
    assertThat(plane.reconciler().detectAll()).hasSize(1);
    assertThat(meters.get("durable.drift").tag("kind", "foreign_key").gauge().value())
        .isEqualTo(3.0);
  }

  private static String render(String rawKey) {
    return ForeignBlob.render(rawKey);
  }

  @ParameterizedTest(name = "foreign key tail {index}")
  @MethodSource("kinds")
  @DisplayName("backfill adopts a marked prefix that holds a foreign object")
  void backfill(String kind) {
    DeployId id = DeployId.forSha(clock.instant().minusSeconds(60), "1234567");
    putValid(BlobLayout.deploy(SITE, id).resolve("index.html"), new byte[] {1});
    putValid(
        BlobLayout.marker(SITE, id), Marker.of(SITE, id, "abcdef0", clock.instant(), 1).toJson());
    plant(BlobLayout.deploy(SITE, id).value() + kind);
    plant(BlobLayout.deploys(SITE).value() + kind);
    plant("zz-foreign/" + kind);
    Backfill.Report site = plane.backfill().site(SITE);
    assertThat(site.adopted()).isEqualTo(1);
    Backfill.Report all = plane.backfill().all();
    assertThat(all.sites()).isEqualTo(1);
    assertThat(all.alreadyIndexed()).isEqualTo(1);
    assertThat(store.metadata().findDeploy(SITE, id)).isPresent();
  }

  @ParameterizedTest(name = "foreign key tail {index}")
  @MethodSource("kinds")
  @DisplayName("uploads and finalize complete on a pending deploy holding a foreign object")
  void finalizeDeploy(String kind) {
    Deploy d = deploys.init(SITE, null);
    upload(d.id(), "index.html", "<h1>hi</h1>");
    plant(BlobLayout.deploy(SITE, d.id()).value() + kind);
    upload(d.id(), "app.js", "1");
    deploys.finalizeDeploy(SITE, d.id(), PROD, Manifest.of("index.html", "app.js"));
    assertThat(deploys.deploy(SITE, d.id()).orElseThrow().isActive()).isTrue();
    assertThat(store.metadata().findAlias(SITE, PROD).orElseThrow().target()).isEqualTo(d.id());
  }
}
