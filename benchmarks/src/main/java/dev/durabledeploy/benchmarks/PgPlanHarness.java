package dev.durabledeploy.benchmarks;

import dev.durabledeploy.core.DeployOptions;
import dev.durabledeploy.core.gc.RetentionPlanner;
import dev.durabledeploy.core.metadata.MetadataCommands;
import dev.durabledeploy.spi.Actor;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.metadata.Alias;
import dev.durabledeploy.spi.metadata.AliasExpectation;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.spi.metadata.DeployState;
import dev.durabledeploy.spi.metadata.MetadataStore;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Retention planning read from PostgreSQL: for every site, list its deploys and aliases from the
 * store and plan; the baseline plans the very same rows already in memory. Markers are taken from
 * the deploy state (the blob stat is the blob store's cost, measured nowhere here).
 */
final class PgPlanHarness {

  record Result(int sites, int deploys, double fromPostgresMillis, double inMemoryMillis) {}

  private record SiteRows(SiteId site, List<Deploy> deploys, List<Alias> aliases) {}

  private PgPlanHarness() {}

  static Result run(MetadataStore metadata, int sites, int deploysPerSite) throws Exception {
    Instant base = Instant.parse("2026-01-01T00:00:00Z");
    MetadataCommands commands = new MetadataCommands(metadata);
    List<SiteId> ids = new ArrayList<>();
    for (int s = 0; s < sites; s++) {
      ids.add(SiteId.of("plan-" + s));
    }
    // Only the read is measured: the sites are written side by side, so the durable server's group
    // commit spares the setup one fsync per command.
    ExecutorService writers = Executors.newFixedThreadPool(8);
    List<Future<?>> written = new ArrayList<>();
    for (SiteId site : ids) {
      written.add(
          writers.submit(
              () -> {
                for (int n = 0; n < deploysPerSite; n++) {
                  DeployId id =
                      DeployId.forSha(base.plusSeconds(n * 60L), String.format("%07x", n));
                  commands.createPending(site, id, null, Actor.SYSTEM);
                  if (n % 2 == 0) {
                    commands.activate(
                        site, id, AliasName.PRODUCTION, AliasExpectation.ANY, Actor.SYSTEM);
                  }
                }
              }));
    }
    try {
      for (Future<?> w : written) {
        w.get();
      }
    } finally {
      writers.shutdown();
    }
    RetentionPlanner planner = new RetentionPlanner(DeployOptions.defaults());
    Instant now = base.plusSeconds(90L * 86_400);
    List<SiteRows> rows = new ArrayList<>();
    for (SiteId site : ids) {
      rows.add(new SiteRows(site, metadata.listDeploys(site), metadata.listAliases(site)));
    }
    int rounds = 7;
    long[] fromPg = new long[rounds];
    long[] inMemory = new long[rounds];
    for (int r = 0; r < rounds; r++) {
      long t0 = System.nanoTime();
      for (SiteId site : ids) {
        plan(
            planner,
            new SiteRows(site, metadata.listDeploys(site), metadata.listAliases(site)),
            now);
      }
      long t1 = System.nanoTime();
      for (SiteRows site : rows) {
        plan(planner, site, now);
      }
      long t2 = System.nanoTime();
      fromPg[r] = t1 - t0;
      inMemory[r] = t2 - t1;
    }
    return new Result(
        sites,
        sites * deploysPerSite,
        Percentiles.medianMillis(fromPg),
        Percentiles.medianMillis(inMemory));
  }

  private static int plan(RetentionPlanner planner, SiteRows site, Instant now) {
    Set<DeployId> marked = new HashSet<>();
    for (Deploy d : site.deploys()) {
      if (d.state() == DeployState.ACTIVE) {
        marked.add(d.id());
      }
    }
    return planner.plan(site.site(), site.deploys(), site.aliases(), marked, now).trash().size();
  }
}
