package dev.durabledeploy.benchmarks;

import dev.durabledeploy.core.metadata.MetadataCommands;
import dev.durabledeploy.spi.Actor;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.Store;
import dev.durabledeploy.spi.exception.AliasDriftException;
import dev.durabledeploy.spi.metadata.Alias;
import dev.durabledeploy.spi.metadata.AliasExpectation;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Alias compare-and-set under contention: 32 threads × 1,000 promotes of one alias, each reading
 * the alias and moving it by version CAS, retrying on drift. Lost updates = final version − 1 −
 * successes; must be 0.
 */
final class CasHarness {

  record Result(double promotesPerSecond, long successes, long retries, long lostUpdates) {}

  private CasHarness() {}

  static Result run(Store store, String siteName, int threads, int promotesPerThread)
      throws Exception {
    SiteId site = SiteId.of(siteName);
    List<DeployId> targets = new ArrayList<>();
    MetadataCommands commands = new MetadataCommands(store.metadata());
    Instant base = Instant.parse("2026-01-01T00:00:00Z");
    for (int i = 0; i < 4; i++) {
      DeployId id = DeployId.forSha(base.plusSeconds(i), String.format("%07x", i + 1));
      commands.adopt(site, id, null, base, Actor.SYSTEM);
      targets.add(id);
    }
    commands.moveAlias(
        site, AliasName.PRODUCTION, targets.get(0), AliasExpectation.ANY, Actor.SYSTEM);
    AtomicLong successes = new AtomicLong();
    AtomicLong retries = new AtomicLong();
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    CountDownLatch start = new CountDownLatch(1);
    List<Future<?>> futures = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      int thread = t;
      futures.add(
          pool.submit(
              () -> {
                start.await();
                for (int i = 0; i < promotesPerThread; i++) {
                  while (true) {
                    Alias seen =
                        store.metadata().findAlias(site, AliasName.PRODUCTION).orElseThrow();
                    DeployId target = targets.get((thread + i) % targets.size());
                    if (target.equals(seen.target())) {
                      target = targets.get((thread + i + 1) % targets.size());
                    }
                    try {
                      commands.moveAlias(
                          site,
                          AliasName.PRODUCTION,
                          target,
                          AliasExpectation.version(seen.version()),
                          Actor.SYSTEM);
                      successes.incrementAndGet();
                      break;
                    } catch (AliasDriftException drift) {
                      retries.incrementAndGet();
                    }
                  }
                }
                return null;
              }));
    }
    long t0 = System.nanoTime();
    start.countDown();
    for (Future<?> f : futures) {
      f.get();
    }
    double seconds = (System.nanoTime() - t0) / 1e9;
    pool.shutdown();
    long version = store.metadata().findAlias(site, AliasName.PRODUCTION).orElseThrow().version();
    return new Result(
        successes.get() / seconds, successes.get(), retries.get(), version - 1 - successes.get());
  }
}
