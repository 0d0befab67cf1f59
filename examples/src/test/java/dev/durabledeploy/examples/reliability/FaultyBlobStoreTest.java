package dev.durabledeploy.examples.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import dev.durabledeploy.core.blob.FileSystemBlobStore;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.exception.DurableDeployException;
import dev.durabledeploy.testkit.FaultInjectingBlobStore;
import dev.durabledeploy.testkit.fixtures.PostgresExtension;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue #14, scenario 3: the workload runs against a blob store that fails 20% of its calls (half
 * of them after the call took effect, a lost response) and answers 2 ms late. Every saga must
 * converge: repairs made while the faults continue reach a clean state, and the final state passes
 * {@link Invariants}, alias projections included.
 */
class FaultyBlobStoreTest {

  static final int SITES = 6;

  @RegisterExtension static final PostgresExtension PG = new PostgresExtension();

  @TempDir Path dir;

  @Test
  void everySagaConvergesDespiteTransientBlobFaults() throws Exception {
    long seed = Long.getLong("reliability.seed", System.nanoTime());
    System.out.println("FaultyBlobStoreTest seed " + seed);
    Path blobRoot = dir.resolve("blobs");
    Deliveries.createTable(PG.dataSource());
    List<SiteId> sites = Workload.sites(SITES);
    FileSystemBlobStore raw = new FileSystemBlobStore(blobRoot);
    FaultInjectingBlobStore faulty =
        new FaultInjectingBlobStore(raw)
            .failRandomlyEitherSide(0.2, new SplittableRandom(seed))
            .latency(Duration.ofMillis(2));
    Workload workload;
    int repairRounds = 0;
    try (Plane plane = new Plane(PG.jdbcUrl(), PG.username(), PG.password(), faulty)) {
      plane.deploy.start();
      // The workload's own checks read past the faults.
      workload = new Workload(plane, seed, SITES, raw, "load", line -> {});
      for (int i = 0; i < 150; i++) {
        workload.step();
      }
      // Convergence under the same faults: repair each site until a scan finds nothing.
      for (SiteId site : sites) {
        boolean clean = false;
        for (int round = 0; round < 20 && !clean; round++) {
          repairRounds++;
          try {
            plane.deploy.reconciler().reconcile(site, true);
            clean = plane.deploy.reconciler().reconcile(site, false).isClean();
          } catch (DurableDeployException transientFaultsOutlastedTheRetries) {
            clean = false; // counted as a round; the next one starts over
          }
        }
        assertThat(clean).as(site + " converges under faults, seed " + seed).isTrue();
      }
      Invariants.awaitDrained(plane.deploy);
      workload.close();
    }

    Invariants.recoverAndCheck(
        PG,
        blobRoot,
        sites,
        workload.unsettled,
        workload.violations,
        "FaultyBlobStoreTest seed "
            + seed
            + ": "
            + workload.done.get()
            + " operations done, "
            + workload.refused.get()
            + " refused; "
            + faulty.calls()
            + " blob calls under faults; "
            + repairRounds
            + " repair rounds; "
            + workload.unsettled.size()
            + " uploads unsettled; workload counters "
            + workload.stats());
  }
}
