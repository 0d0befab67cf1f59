package dev.durabledeploy.benchmarks;

import dev.durabledeploy.core.DeployOptions;
import dev.durabledeploy.core.gc.GcPlan;
import dev.durabledeploy.core.gc.RetentionPlanner;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.metadata.Alias;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.spi.metadata.DeployState;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/** Retention planning of 1,000,000 deploys over 10,000 sites, all in memory. Goal: ≤ 2 s. */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2)
@Measurement(iterations = 5)
@Fork(
    value = 1,
    jvmArgs = {"-Xmx4g"})
public class PlannerBenchmark {

  static final int SITES = 10_000;
  static final int DEPLOYS_PER_SITE = 100;

  record SiteInput(SiteId site, List<Deploy> deploys, List<Alias> aliases, Set<DeployId> marked) {}

  List<SiteInput> sites;
  RetentionPlanner planner;
  Instant now;

  @Setup
  public void setUp() {
    sites = generate(SITES, DEPLOYS_PER_SITE);
    planner = new RetentionPlanner(DeployOptions.defaults());
    now = Instant.parse("2026-06-01T00:00:00Z");
  }

  static List<SiteInput> generate(int siteCount, int perSite) {
    SplittableRandom random = new SplittableRandom(42);
    Instant now = Instant.parse("2026-06-01T00:00:00Z");
    List<SiteInput> out = new ArrayList<>(siteCount);
    for (int s = 0; s < siteCount; s++) {
      SiteId site = SiteId.of("site-" + s);
      List<Deploy> deploys = new ArrayList<>(perSite);
      Set<DeployId> marked = new HashSet<>();
      for (int n = 0; n < perSite; n++) {
        Instant created = now.minusSeconds(random.nextLong(0, 60L * 86_400));
        DeployId id = DeployId.forSha(created, String.format("%07x", n));
        DeployState state = random.nextInt(10) == 0 ? DeployState.PENDING : DeployState.ACTIVE;
        Instant released = random.nextInt(5) == 0 ? now.minusSeconds(random.nextInt(60)) : null;
        deploys.add(
            new Deploy(
                site,
                id,
                null,
                state,
                id.createdAt(),
                state == DeployState.ACTIVE ? id.createdAt() : null,
                released));
        if (state == DeployState.ACTIVE) {
          marked.add(id);
        }
      }
      List<Alias> aliases =
          List.of(
              new Alias(
                  site, AliasName.PRODUCTION, deploys.get(random.nextInt(perSite)).id(), 1, now));
      out.add(new SiteInput(site, deploys, aliases, marked));
    }
    return out;
  }

  /** Plans every site; returns the number of deploys to trash so nothing is optimised away. */
  @Benchmark
  public int planOneMillionDeploys() {
    int trash = 0;
    for (SiteInput s : sites) {
      GcPlan plan = planner.plan(s.site(), s.deploys(), s.aliases(), s.marked(), now);
      trash += plan.trash().size();
    }
    return trash;
  }
}
