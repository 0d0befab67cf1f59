package dev.durabledeploy.core.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import dev.durabledeploy.core.CoreFixture;
import dev.durabledeploy.core.DeployOptions;
import dev.durabledeploy.core.DurableDeploy;
import dev.durabledeploy.core.deploy.BlobLayout;
import dev.durabledeploy.spi.exception.SiteBusyException;
import dev.durabledeploy.spi.exception.SiteNotFoundException;
import dev.durabledeploy.spi.exception.SiteStateException;
import dev.durabledeploy.spi.metadata.Site;
import dev.durabledeploy.spi.metadata.SiteState;
import dev.durabledeploy.spi.retry.RetryPolicy;
import dev.durabledeploy.store.memory.InMemoryWorkflowEngine;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * Two hosts (two planes on one store and one bucket) trash and restore the same site while a third
 * runs the tombstone purge at the window's edge: whatever wins, the record and the bytes agree.
 */
class TwoHostsSiteTrashHostileTest extends CoreFixture {

  @Override
  protected DeployOptions options() {
    return DeployOptions.builder()
        .importSitesOnStart(false)
        .lockTimeout(Duration.ofSeconds(20))
        .build();
  }

  @Test
  @DisplayName("holds: concurrent trash, restore and expiry purge leave record and bytes in step")
  void trashRestorePurgeRace() throws Exception {
    DurableDeploy other =
        DurableDeploy.builder()
            .store(store)
            .blobStore(blobs)
            .engine(new InMemoryWorkflowEngine())
            .clock(clock)
            .random(new SplittableRandom(2))
            .sleeper(d -> {})
            .retryPolicy(
                RetryPolicy.defaults().withBackoff(Duration.ofMillis(1), Duration.ofMillis(5), 2.0))
            .options(options())
            .instanceId("test-host-2")
            .build();
    ExecutorService pool = Executors.newFixedThreadPool(3);
    try {
      List<String> broken = new ArrayList<>();
      for (int round = 0; round < 40; round++) {
        if (plane.sites().find(SITE).isEmpty()) {
          finalizedDeploy(PROD, "r" + round);
        } else if (plane.sites().find(SITE).get().state() == SiteState.ACTIVE
            && deploys.deploys(SITE).isEmpty()) {
          finalizedDeploy(PROD, "r" + round);
        }
        var d = deploys.purgeSite(SITE);
        // Right at the edge: the purge may or may not see the window closed.
        clock.set(d.restorableUntil().minusNanos(round % 2 == 0 ? 1000 : 0));
        CyclicBarrier start = new CyclicBarrier(3);
        List<Future<?>> running = new ArrayList<>();
        running.add(pool.submit(() -> quietly(start, () -> deploys.restoreSite(SITE))));
        running.add(pool.submit(() -> quietly(start, () -> other.deploys().purgeSite(SITE))));
        running.add(pool.submit(() -> quietly(start, () -> other.tombstonePurge().run())));
        for (Future<?> f : running) {
          f.get(60, TimeUnit.SECONDS);
        }
        Optional<Site> record = plane.sites().find(SITE);
        boolean live = !rawBlobs.listAll(BlobLayout.site(SITE)).isEmpty();
        boolean trashed = !rawBlobs.listAll(BlobLayout.siteTrash(SITE)).isEmpty();
        String state = record.map(r -> r.state().name()).orElse("none");
        boolean ok =
            switch (state) {
              case "ACTIVE" -> live && !trashed && !deploys.deploys(SITE).isEmpty();
              case "TRASHED" -> !live && trashed;
              case "none" -> !live && !trashed && deploys.deploys(SITE).isEmpty();
              default -> false;
            };
        if (!ok) {
          broken.add("round " + round + ": " + state + " live=" + live + " trash=" + trashed);
        }
        // Start the next round from an active site.
        if (record.isPresent() && record.get().state() == SiteState.TRASHED) {
          clock.set(record.get().purgeAfter().minusSeconds(10));
          deploys.restoreSite(SITE);
        }
        clock.advance(Duration.ofSeconds(1));
      }
      assertThat(broken).isEmpty();
    } finally {
      pool.shutdownNow();
      other.close();
    }
  }

  private static Object quietly(CyclicBarrier start, Runnable r) throws Exception {
    start.await(30, TimeUnit.SECONDS);
    try {
      r.run();
    } catch (SiteStateException | SiteNotFoundException | SiteBusyException expected) {
      // lost the race: fine
    }
    return null;
  }
}
