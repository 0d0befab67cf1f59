package dev.durabledeploy.core.gc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.durabledeploy.core.CoreFixture;
import dev.durabledeploy.core.DeployOptions;
import dev.durabledeploy.core.deploy.BlobLayout;
import dev.durabledeploy.core.metadata.MetadataCommands;
import dev.durabledeploy.spi.Actor;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.events.OperationEvent;
import dev.durabledeploy.spi.metadata.AliasExpectation;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.spi.outbox.StandardEvents;
import dev.durabledeploy.testkit.FaultInjectingBlobStore.When;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

@DisplayName("SiteGc")
class SiteGcTest extends CoreFixture {

  private int blastCap = 100;

  @Override
  protected DeployOptions options() {
    return DeployOptions.builder()
        .keepLatest(1)
        .blastCap(blastCap)
        .gcDebounce(Duration.ofSeconds(1), Duration.ofSeconds(30))
        .build();
  }

  /** Six finalized deploys, the newest aliased, then the clock moved past retention. */
  private List<Deploy> oldSite() {
    List<Deploy> deploys = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      deploys.add(finalizedDeploy(AliasName.PRODUCTION, "v" + i));
      clock.advance(Duration.ofMinutes(1));
    }
    clock.advance(Duration.ofDays(10));
    return deploys;
  }

  private List<DeployId> ids(List<Deploy> deploys) {
    return deploys.stream().map(Deploy::id).toList();
  }

  @Test
  @DisplayName("trashes what the plan says, tombstone and bytes, keeping the aliased newest")
  void trashes() {
    List<Deploy> deploys = oldSite();
    GcReport report = plane.gc().run(SITE, false);
    assertThat(report.trashed()).containsExactlyElementsOf(ids(deploys.subList(0, 5)));
    for (DeployId id : report.trashed()) {
      assertThat(store.metadata().findTombstone(SITE, id)).isPresent();
      assertThat(rawBlobs.listAll(BlobLayout.deploy(SITE, id))).isEmpty();
      assertThat(rawBlobs.listAll(BlobLayout.trash(SITE, id))).isNotEmpty();
    }
    assertThat(deploys(SITE)).containsExactly(deploys.get(5).id());
  }

  private List<DeployId> deploys(dev.durabledeploy.spi.SiteId site) {
    return store.metadata().listDeploys(site).stream().map(Deploy::id).toList();
  }

  @Test
  @DisplayName("reads the markers only of the deploys young enough for retention to keep")
  void markerReadsWithinRetentionOnly() {
    List<Deploy> old = oldSite();
    Deploy recent = finalizedDeploy(AliasName.PRODUCTION, "v6");
    blobs.onCall(Integer.MAX_VALUE, () -> {}); // counts the calls from here
    GcPlan plan = plane.gc().plan(SITE);
    // One stat, the recent deploy's marker, and one listing of the alias projections: not a stat
    // for each of the six deploys past retention, which their markers could not keep.
    assertThat(blobs.calls()).isEqualTo(2);
    assertThat(plan.trash()).containsExactlyElementsOf(ids(old.subList(0, 5)));
    assertThat(plan.keeps())
        .filteredOn(k -> k.deployId().equals(recent.id()))
        .singleElement()
        .satisfies(k -> assertThat(k.reasons()).contains(KeepReason.RETENTION));
  }

  @Test
  @DisplayName("V7: over the blast cap, the oldest cap are trashed and the rest reported")
  void blastCap() {
    plane.close();
    blastCap = 2;
    buildPlane();
    List<Deploy> deploys = oldSite();
    GcReport report = plane.gc().run(SITE, false);
    assertThat(report.trashed()).containsExactly(deploys.get(0).id(), deploys.get(1).id());
    assertThat(report.deferred()).containsExactlyElementsOf(ids(deploys.subList(2, 5)));
  }

  @Test
  @DisplayName("V7: a blast cap of 0 refuses every destructive step")
  void capZero() {
    plane.close();
    blastCap = 0;
    buildPlane();
    List<Deploy> deploys = oldSite();
    GcReport report = plane.gc().run(SITE, false);
    assertThat(report.trashed()).isEmpty();
    assertThat(report.deferred()).hasSize(5);
    assertThat(deploys(SITE)).hasSize(6);
    assertThat(deploys).isNotEmpty();
  }

  @Test
  @DisplayName("V7: a dry run reports the full plan and writes nothing")
  void dryRun() {
    oldSite();
    int events = store.allEvents().size();
    int objects = rawBlobs.size();
    GcReport report = plane.gc().run(SITE, true);
    assertThat(report.dryRun()).isTrue();
    assertThat(report.plan().trash()).hasSize(5);
    assertThat(report.trashed()).isEmpty();
    assertThat(store.allEvents()).hasSize(events);
    assertThat(rawBlobs.size()).isEqualTo(objects);
    assertThat(store.metadata().listTombstones(SITE)).isEmpty();
  }

  @Test
  @DisplayName("V1: a deploy aliased between plan and move is refused, not trashed")
  void v1Recheck() {
    List<Deploy> deploys = oldSite();
    Deploy victim = deploys.get(0);
    // GC reads rows and aliases, then lists the alias projections to plan (the six deploys are
    // past retention, so no marker is read). During that listing, after GC read the aliases and
    // before it tombstones, another writer aliases the oldest deploy.
    blobs.onCall(
        1,
        () ->
            new MetadataCommands(store.metadata())
                .moveAlias(
                    SITE, AliasName.of("hotfix"), victim.id(), AliasExpectation.ANY, Actor.SYSTEM));
    GcReport report = plane.gc().run(SITE, false);
    assertThat(report.plan().trash()).contains(victim.id());
    assertThat(report.refused()).containsExactly(victim.id());
    assertThat(report.trashed()).doesNotContain(victim.id()).hasSize(4);
    assertThat(rawBlobs.listAll(BlobLayout.deploy(SITE, victim.id()))).isNotEmpty();
    assertThat(store.metadata().findTombstone(SITE, victim.id())).isEmpty();
  }

  @Test
  @DisplayName("V6 and crash mid-GC: tombstone first, bytes second; a re-run finishes the job")
  void crashMidGc() {
    List<Deploy> deploys = oldSite();
    // Fail the second byte move: deploy 0 is done, deploy 1 has its tombstone but not its move.
    blobs.failOnCall(Integer.MAX_VALUE, When.BEFORE);
    int planReads = 1; // one listing of the alias projections; all six are past retention
    blobs.failOnCall(planReads + 2, When.BEFORE).throwing(() -> new IllegalStateException("crash"));
    assertThatThrownBy(() -> plane.gc().run(SITE, false)).hasMessageContaining("crash");
    assertThat(store.metadata().findTombstone(SITE, deploys.get(1).id())).isPresent();
    assertThat(rawBlobs.listAll(BlobLayout.deploy(SITE, deploys.get(1).id()))).isNotEmpty();
    blobs.heal();
    plane.reconciler().reconcile(SITE, true);
    GcReport rerun = plane.gc().run(SITE, false);
    assertThat(deploys(SITE)).containsExactly(deploys.get(5).id());
    for (Deploy d : deploys.subList(0, 5)) {
      assertThat(rawBlobs.listAll(BlobLayout.deploy(SITE, d.id()))).isEmpty();
      assertThat(rawBlobs.listAll(BlobLayout.trash(SITE, d.id()))).isNotEmpty();
    }
    assertThat(rerun.trashed()).hasSize(3);
  }

  @Test
  @DisplayName("gc-site runs once for a burst of 100 site.changed events")
  void debounced() {
    oldSite();
    plane.start();
    for (int i = 0; i < 100; i++) {
      store.outbox().append(StandardEvents.siteChanged(SITE, "test"));
    }
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> store.metadata().listDeploys(SITE).size() == 1);
    await().atMost(Duration.ofSeconds(10)).until(() -> store.outbox().stats().undelivered() == 0);
    // The recorder hears the bus asynchronously: wait for the run's Started event to reach it.
    await().atMost(Duration.ofSeconds(10)).until(() -> gcRuns() >= 1);
    assertThat(gcRuns()).isBetween(1L, 2L);
  }

  private long gcRuns() {
    return recorded.events(OperationEvent.Started.class).stream()
        .filter(e -> e.operation().equals("gc"))
        .count();
  }
}
