package dev.durabledeploy.examples.hostile;

import static dev.durabledeploy.examples.hostile.Blobs.bytes;
import static org.assertj.core.api.Assertions.assertThat;

import dev.durabledeploy.core.DurableDeploy;
import dev.durabledeploy.core.deploy.BlobLayout;
import dev.durabledeploy.core.deploy.DeployService;
import dev.durabledeploy.core.deploy.Manifest;
import dev.durabledeploy.core.gc.GcSweep;
import dev.durabledeploy.engine.executor.ExecutorEngine;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.UploadPath;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.store.memory.InMemoryBlobStore;
import dev.durabledeploy.store.memory.InMemoryStore;
import dev.durabledeploy.testkit.MutableClock;
import java.io.ByteArrayInputStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The GC sweep on two hosts at once: one sweeps, the other stands aside, nothing is skipped. */
class GcSweepHostileTest {

  static final SiteId SITE = SiteId.of("hostile-sweep");

  @Test
  void twoHostsSweepingAtOnceScanOnceAndNeitherMissesASite() throws Exception {
    MutableClock clock = new MutableClock();
    InMemoryStore store = new InMemoryStore(clock);
    InMemoryBlobStore raw = new InMemoryBlobStore(clock);
    HookedBlobStore blobsA = new HookedBlobStore(raw);
    ExecutorService pool = Executors.newCachedThreadPool();
    try (DurableDeploy a =
            DurableDeploy.builder()
                .store(store)
                .blobStore(blobsA)
                .engine(ExecutorEngine.builder().clock(clock).build())
                .clock(clock)
                .instanceId("host-a")
                .build()
                .start();
        DurableDeploy b =
            DurableDeploy.builder()
                .store(store)
                .blobStore(raw)
                .engine(ExecutorEngine.builder().clock(clock).build())
                .clock(clock)
                .instanceId("host-b")
                .build()
                .start()) {
      DeployService deploys = a.deploys();
      List<Deploy> four = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        Deploy d = deploys.init(SITE, null);
        byte[] html = bytes("<h1>" + i + "</h1>");
        deploys.upload(
            SITE, d.id(), UploadPath.INDEX_HTML, new ByteArrayInputStream(html), html.length);
        deploys.finalizeDeploy(SITE, d.id(), AliasName.PRODUCTION, Manifest.of("index.html"));
        four.add(d);
        clock.advance(Duration.ofMinutes(1));
      }
      // The oldest is past grace, within retention, not newest, not aliased: the sweep must read
      // its marker to decide. Host A's sweep parks on that read, inside its job lease.
      clock.advance(Duration.ofDays(4));
      Gate markerRead = new Gate();
      blobsA.before(
          HookedBlobStore.Op.STAT,
          k -> k.equals(BlobLayout.marker(SITE, four.get(0).id()).value()),
          1,
          markerRead);
      Future<GcSweep.Report> sweepA = pool.submit(() -> a.gcSweep().run());
      markerRead.awaitArrival(Duration.ofSeconds(30));
      GcSweep.Report sweepB = b.gcSweep().run();
      assertThat(sweepB.ranElsewhere()).isTrue();
      markerRead.open();
      GcSweep.Report reportA = sweepA.get(30, TimeUnit.SECONDS);
      assertThat(reportA.ranElsewhere()).isFalse();
      assertThat(reportA.sitesScanned()).isEqualTo(1);
      assertThat(reportA.sitesSubmitted()).isZero();
      // The lease is free again: B's next sweep runs, and after retention both agree.
      clock.advance(Duration.ofDays(4));
      GcSweep.Report later = b.gcSweep().run();
      assertThat(later.ranElsewhere()).isFalse();
      assertThat(later.sitesSubmitted()).isEqualTo(1);
    } finally {
      pool.shutdownNow();
    }
  }
}
