package dev.durabledeploy.core.purge;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.durabledeploy.core.CoreFixture;
import dev.durabledeploy.core.DeployOptions;
import dev.durabledeploy.core.deploy.BlobLayout;
import dev.durabledeploy.spi.exception.BatchAbortedException;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.testkit.FaultInjectingBlobStore.When;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

@DisplayName("TombstonePurge")
class TombstonePurgeTest extends CoreFixture {

  @Override
  protected DeployOptions options() {
    return DeployOptions.builder().batchSize(2).build();
  }

  private List<Deploy> deleted(int n) {
    List<Deploy> out = new ArrayList<>();
    for (int i = 0; i <= n; i++) {
      out.add(finalizedDeploy(PROD, "v" + i));
    }
    for (Deploy d : out.subList(0, n)) {
      deploys.delete(SITE, d.id());
    }
    return out.subList(0, n);
  }

  @Test
  @DisplayName("purges only expired tombstones: bytes first, then the row")
  void purges() {
    List<Deploy> gone = deleted(3);
    assertThat(plane.tombstonePurge().run().purged()).isZero();
    clock.advance(Duration.ofDays(7));
    assertThat(plane.tombstonePurge().run().purged()).isEqualTo(3);
    for (Deploy d : gone) {
      assertThat(store.metadata().findTombstone(SITE, d.id())).isEmpty();
      assertThat(rawBlobs.listAll(BlobLayout.trash(SITE, d.id()))).isEmpty();
    }
    assertThat(plane.tombstonePurge().run().purged()).isZero();
  }

  @Test
  @DisplayName("a crash between byte delete and row delete is finished by the next run (V6)")
  void crashBetween() {
    List<Deploy> gone = deleted(1);
    clock.advance(Duration.ofDays(8));
    // The bytes are deleted, then the process dies before the row goes.
    blobs.failOnCall(1, When.AFTER).throwing(() -> new IllegalStateException("crash"));
    plane.tombstonePurge().run();
    assertThat(rawBlobs.listAll(BlobLayout.trash(SITE, gone.get(0).id()))).isEmpty();
    assertThat(store.metadata().findTombstone(SITE, gone.get(0).id())).isPresent();
    blobs.heal();
    assertThat(plane.tombstonePurge().run().purged()).isEqualTo(1);
    assertThat(store.metadata().listTombstones(SITE)).isEmpty();
  }

  @Test
  @DisplayName("a run finishes a site purge that crashed after its rows: bytes and intent go")
  void finishesCrashedSitePurge() {
    deleted(1);
    crashedPurge();
    TombstonePurge.Report report = plane.tombstonePurge().run();
    assertThat(report.sitesFinished()).isEqualTo(1);
    assertThat(store.metadata().listDeploys(SITE)).isEmpty();
    assertThat(store.metadata().listTombstones(SITE)).isEmpty();
    assertThat(store.metadata().listAliases(SITE)).isEmpty();
    assertThat(rawBlobs.listAll(BlobLayout.purgeIntents())).isEmpty();
    assertThat(rawBlobs.listAll(BlobLayout.site(SITE))).isEmpty();
    assertThat(rawBlobs.listAll(BlobLayout.trash(SITE))).isEmpty();
    assertThat(plane.tombstonePurge().run().sitesFinished()).isZero();
  }

  @Test
  @DisplayName("aborts after three consecutive failed batches, naming the batch")
  void aborts() {
    deleted(6); // three batches of two
    clock.advance(Duration.ofDays(8));
    blobs
        .failRandomly(1.0, new java.util.SplittableRandom(1))
        .throwing(() -> new IllegalStateException("bucket down"));
    assertThatThrownBy(() -> plane.tombstonePurge().run())
        .isInstanceOf(BatchAbortedException.class)
        .hasMessageContaining("3 consecutive")
        .hasMessageContaining("tombstones site-a/");
    blobs.heal();
    assertThat(plane.tombstonePurge().run().purged()).isEqualTo(6);
  }
}
