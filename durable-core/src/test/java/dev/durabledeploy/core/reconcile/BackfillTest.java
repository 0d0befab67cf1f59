package dev.durabledeploy.core.reconcile;

import static org.assertj.core.api.Assertions.assertThat;

import dev.durabledeploy.core.CoreFixture;
import dev.durabledeploy.core.deploy.BlobLayout;
import dev.durabledeploy.core.deploy.Marker;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.blob.BlobKey;
import dev.durabledeploy.spi.blob.BlobMetadata;
import dev.durabledeploy.spi.metadata.Deploy;
import java.io.ByteArrayInputStream;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

@DisplayName("Backfill")
class BackfillTest extends CoreFixture {

  private DeployId bucketDeploy(SiteId site, int n, boolean marked) {
    DeployId id = DeployId.forSha(clock.instant().minusSeconds(n), String.format("%07x", n));
    rawBlobs.put(
        BlobLayout.deploy(site, id).resolve("index.html"),
        new ByteArrayInputStream(new byte[1]),
        1,
        BlobMetadata.binary());
    if (marked) {
      byte[] json = Marker.of(site, id, "abcdef0", clock.instant(), 1).toJson();
      rawBlobs.put(
          BlobLayout.marker(site, id),
          new ByteArrayInputStream(json),
          json.length,
          BlobMetadata.binary());
    }
    return id;
  }

  @Test
  @DisplayName("adopts marked prefixes as active rows, leaves unmarked ones and never overwrites")
  void site() {
    Deploy existing = finalizedDeploy(PROD, "v1");
    DeployId a = bucketDeploy(SITE, 1, true);
    DeployId b = bucketDeploy(SITE, 2, false);
    Backfill.Report report = plane.backfill().site(SITE);
    assertThat(report).isEqualTo(new Backfill.Report(1, 1, 1, 1, 0));
    Deploy adopted = store.metadata().findDeploy(SITE, a).orElseThrow();
    assertThat(adopted.isActive()).isTrue();
    assertThat(adopted.sha()).isEqualTo("abcdef0");
    assertThat(store.metadata().findDeploy(SITE, b)).isEmpty();
    assertThat(store.metadata().findDeploy(SITE, existing.id())).contains(existing);
    assertThat(store.metadata().listAliases(SITE)).hasSize(1);
    assertThat(plane.backfill().site(SITE).adopted()).isZero();
  }

  @Test
  @DisplayName("backfills every site found in the bucket, skipping trash and foreign prefixes")
  void all() {
    bucketDeploy(SiteId.of("alpha"), 1, true);
    bucketDeploy(SiteId.of("beta"), 2, true);
    bucketDeploy(SiteId.of("beta"), 3, true);
    rawBlobs.put(
        BlobKey.of("_trash/alpha/x/y"),
        new ByteArrayInputStream(new byte[0]),
        0,
        BlobMetadata.binary());
    rawBlobs.put(
        BlobKey.of("Not A Site/x"),
        new ByteArrayInputStream(new byte[0]),
        0,
        BlobMetadata.binary());
    Backfill.Report report = plane.backfill().all();
    assertThat(report.sites()).isEqualTo(2);
    assertThat(report.adopted()).isEqualTo(3);
    assertThat(store.metadata().listSites(null, 10))
        .extracting(SiteId::value)
        .containsExactly("alpha", "beta");
  }
}
