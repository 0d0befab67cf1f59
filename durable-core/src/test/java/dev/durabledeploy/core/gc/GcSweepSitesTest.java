package dev.durabledeploy.core.gc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.durabledeploy.core.CoreFixture;
import dev.durabledeploy.core.DeployOptions;
import dev.durabledeploy.core.DurableDeploy;
import dev.durabledeploy.core.deploy.BlobLayout;
import dev.durabledeploy.core.deploy.Manifest;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.UploadPath;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.spi.metadata.Tombstone;
import dev.durabledeploy.spi.outbox.OutboxEvent;
import dev.durabledeploy.store.memory.InMemoryWorkflowEngine;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** Issue 20.4: which sites the GC sweep submits, and sweeps of several hosts at once. */
@DisplayName("GcSweep")
class GcSweepSitesTest extends CoreFixture {

  private static final SiteId OLD = SiteId.of("old-site");
  private static final SiteId NEWEST_ONLY = SiteId.of("newest-only");
  private static final SiteId UNMARKED = SiteId.of("unmarked");
  private static final SiteId YOUNG = SiteId.of("young-site");

  @Override
  protected DeployOptions options() {
    return DeployOptions.builder()
        .gcDebounce(Duration.ofMillis(50), Duration.ofMillis(500))
        // The start-up site import reads the bucket in the background, and these tests pause the
        // sweep at a numbered blob call.
        .importSitesOnStart(false)
        .build();
  }

  private List<Deploy> finalized(SiteId site, int count) {
    List<Deploy> out = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      Deploy d = deploys.init(site, null);
      byte[] bytes = ("v" + i).getBytes(StandardCharsets.UTF_8);
      deploys.upload(
          site, d.id(), UploadPath.of("index.html"), new ByteArrayInputStream(bytes), bytes.length);
      deploys.finalizeDeploy(site, d.id(), PROD, Manifest.of("index.html"));
      out.add(d);
      clock.advance(Duration.ofMinutes(1));
    }
    return out;
  }

  /** The events were consumed, but the GC runs they caused were lost (a host went away). */
  private void consumeEvents() {
    List<OutboxEvent> batch;
    while (!(batch = store.outbox().claim("gone", 1000, Duration.ofMinutes(1))).isEmpty()) {
      store.outbox().ack("gone", batch.stream().map(OutboxEvent::id).toList());
    }
  }

  private List<DeployId> trash(SiteId site) {
    return deploys.trash(site).stream().map(Tombstone::deployId).toList();
  }

  /**
   * Four sites: OLD (six deploys ten days old: GC trashes three), NEWEST_ONLY (three such deploys,
   * all kept as newest), UNMARKED (five deploys four days old, kept by retention, two of which lost
   * their markers: GC trashes those two) and YOUNG (within grace). Returns the deploys of OLD and
   * UNMARKED.
   */
  private List<List<Deploy>> fourSites() {
    List<Deploy> old = finalized(OLD, 6);
    finalized(NEWEST_ONLY, 3);
    clock.advance(Duration.ofDays(6));
    List<Deploy> unmarked = finalized(UNMARKED, 5);
    rawBlobs.delete(BlobLayout.marker(UNMARKED, unmarked.get(0).id()));
    rawBlobs.delete(BlobLayout.marker(UNMARKED, unmarked.get(1).id()));
    clock.advance(Duration.ofDays(4));
    finalized(YOUNG, 4);
    consumeEvents();
    return List.of(old, unmarked);
  }

  @Test
  @DisplayName(
      "submits gc-site for exactly the sites GC would trash something of; the next sweep submits"
          + " nothing")
  void submitsSitesWithTrash() {
    List<List<Deploy>> sites = fourSites();
    plane.start();
    GcSweep.Report report = plane.gcSweep().run();
    assertThat(report).isEqualTo(new GcSweep.Report(4, 2, false));
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> trash(OLD).size() == 3 && trash(UNMARKED).size() == 2);
    assertThat(trash(OLD))
        .containsExactlyElementsOf(sites.get(0).subList(0, 3).stream().map(Deploy::id).toList());
    assertThat(trash(UNMARKED))
        .containsExactlyElementsOf(sites.get(1).subList(0, 2).stream().map(Deploy::id).toList());
    assertThat(trash(NEWEST_ONLY)).isEmpty();
    assertThat(trash(YOUNG)).isEmpty();
    assertThat(plane.gcSweep().run()).isEqualTo(new GcSweep.Report(4, 0, false));
  }

  @Test
  @DisplayName("the schedule fires gc-sweep, registered on the engine with the library's workflows")
  void scheduled() {
    fourSites();
    plane.start();
    assertThat(engine.registeredWorkflows().orElseThrow()).contains(GcSweep.WORKFLOW);
    engine.fire(GcSweep.WORKFLOW);
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> trash(OLD).size() == 3 && trash(UNMARKED).size() == 2);
  }

  @Test
  @DisplayName("of two hosts sweeping at once, one scans and the other reports it ran elsewhere")
  void oneSweepAtATime() throws Exception {
    fourSites();
    plane.start();
    DurableDeploy otherHost =
        DurableDeploy.builder()
            .store(store)
            .blobStore(blobs)
            .engine(new InMemoryWorkflowEngine())
            .clock(clock)
            .options(options())
            .instanceId("test-host-2")
            .build();
    try {
      CountDownLatch inside = new CountDownLatch(1);
      CountDownLatch release = new CountDownLatch(1);
      // The first host's sweep pauses at its first marker read (UNMARKED's retention check).
      blobs.onCall(
          1,
          () -> {
            inside.countDown();
            try {
              release.await(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
          });
      CompletableFuture<GcSweep.Report> first = CompletableFuture.supplyAsync(plane.gcSweep()::run);
      assertThat(inside.await(30, TimeUnit.SECONDS)).isTrue();
      assertThat(otherHost.gcSweep().run()).isEqualTo(new GcSweep.Report(0, 0, true));
      release.countDown();
      assertThat(first.get(30, TimeUnit.SECONDS)).isEqualTo(new GcSweep.Report(4, 2, false));
    } finally {
      otherHost.close();
    }
  }
}
