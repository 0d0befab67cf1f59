package dev.durabledeploy.core.gc;

import static org.assertj.core.api.Assertions.assertThat;

import dev.durabledeploy.core.DeployOptions;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.metadata.Alias;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.spi.metadata.DeployState;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

@DisplayName("RetentionPlanner")
class RetentionPlannerTest {

  private static final SiteId SITE = SiteId.of("site-a");
  private static final Instant NOW = Instant.parse("2026-06-01T00:00:00Z");
  private final DeployOptions options = DeployOptions.defaults();
  private final RetentionPlanner planner = new RetentionPlanner(options);

  private static Deploy deploy(int daysAgo, DeployState state, Instant releasedAt, int n) {
    Instant created = NOW.minus(Duration.ofDays(daysAgo)).minusSeconds(n);
    DeployId id = DeployId.forSha(created, String.format("%07x", n));
    return new Deploy(
        SITE,
        id,
        null,
        state,
        id.createdAt(),
        state == DeployState.ACTIVE ? id.createdAt() : null,
        releasedAt);
  }

  private static Alias alias(String name, Deploy target) {
    return new Alias(SITE, AliasName.of(name), target.id(), 1, NOW);
  }

  /** Ten old, marked, active deploys: only keepLatest should save any of them. */
  private List<Deploy> oldDeploys() {
    List<Deploy> deploys = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      deploys.add(deploy(30 + i, DeployState.ACTIVE, null, i));
    }
    return deploys;
  }

  private static Set<DeployId> all(List<Deploy> deploys) {
    Set<DeployId> ids = new HashSet<>();
    deploys.forEach(d -> ids.add(d.id()));
    return ids;
  }

  @Test
  @DisplayName("a deploy restored less than grace ago is kept as RESTORED, however old")
  void restored() {
    List<Deploy> deploys = new ArrayList<>(oldDeploys());
    Deploy oldest = deploys.get(9);
    Instant restoredAt = NOW.minus(options.grace()).plusSeconds(1);
    Deploy restored =
        new Deploy(
            SITE,
            oldest.id(),
            null,
            DeployState.ACTIVE,
            oldest.createdAt(),
            oldest.finalizedAt(),
            null,
            restoredAt);
    deploys.set(9, restored);
    GcPlan plan = planner.plan(SITE, deploys, List.of(), all(deploys), NOW);
    assertThat(plan.keeps()).contains(new GcPlan.Keep(oldest.id(), Set.of(KeepReason.RESTORED)));
    GcPlan later = planner.plan(SITE, deploys, List.of(), all(deploys), NOW.plusSeconds(1));
    assertThat(later.trash()).contains(oldest.id());
  }

  @Test
  @DisplayName("V1: a deploy an alias targets is never trashed, however old")
  void v1() {
    List<Deploy> deploys = oldDeploys();
    Deploy oldest = deploys.get(9);
    GcPlan plan =
        planner.plan(SITE, deploys, List.of(alias("production", oldest)), all(deploys), NOW);
    assertThat(plan.trash()).doesNotContain(oldest.id());
    assertThat(plan.keeps())
        .anySatisfy(
            k -> {
              assertThat(k.deployId()).isEqualTo(oldest.id());
              assertThat(k.reasons()).contains(KeepReason.ALIASED);
            });
  }

  @Test
  @DisplayName("V2: the newest keepLatest active deploys are kept; pending ones do not count")
  void v2() {
    List<Deploy> deploys = new ArrayList<>(oldDeploys());
    Deploy pendingNewest = deploy(20, DeployState.PENDING, null, 99);
    deploys.add(pendingNewest);
    GcPlan plan = planner.plan(SITE, deploys, List.of(), all(deploys), NOW);
    List<DeployId> newestActive =
        List.of(deploys.get(0).id(), deploys.get(1).id(), deploys.get(2).id());
    assertThat(plan.trash()).doesNotContainAnyElementsOf(newestActive);
    assertThat(plan.trash()).hasSize(8).contains(pendingNewest.id());
  }

  @Test
  @DisplayName("V3: a deploy younger than grace is never trashed, marked or not")
  void v3() {
    List<Deploy> deploys = new ArrayList<>(oldDeploys());
    Deploy young = deploy(2, DeployState.PENDING, null, 50);
    deploys.add(0, young);
    GcPlan plan = planner.plan(SITE, deploys, List.of(), Set.of(), NOW);
    assertThat(plan.trash()).doesNotContain(young.id());
    assertThat(plan.keeps()).anySatisfy(k -> assertThat(k.reasons()).contains(KeepReason.GRACE));
  }

  @Test
  @DisplayName("V4: a deploy released from an alias less than the TTL ago is kept")
  void v4() {
    List<Deploy> deploys = oldDeploys();
    Deploy justReleased = deploy(40, DeployState.ACTIVE, NOW.minusSeconds(10), 77);
    Deploy releasedLongAgo = deploy(41, DeployState.ACTIVE, NOW.minusSeconds(20), 78);
    List<Deploy> all = new ArrayList<>(deploys);
    all.add(justReleased);
    all.add(releasedLongAgo);
    GcPlan plan = planner.plan(SITE, all, List.of(), all(all), NOW);
    assertThat(plan.trash()).doesNotContain(justReleased.id()).contains(releasedLongAgo.id());
  }

  @Test
  @DisplayName("V5: a marked deploy is kept until retention; an unmarked one gets grace only")
  void v5() {
    Deploy fiveDays = deploy(5, DeployState.ACTIVE, null, 5);
    Deploy eightDays = deploy(8, DeployState.ACTIVE, null, 8);
    List<Deploy> deploys = List.of(fiveDays, eightDays);
    DeployOptions noNewest = options.toBuilder().keepLatest(0).build();
    RetentionPlanner p = new RetentionPlanner(noNewest);
    GcPlan marked = p.plan(SITE, deploys, List.of(), all(deploys), NOW);
    assertThat(marked.trash()).doesNotContain(fiveDays.id()).contains(eightDays.id());
    GcPlan unmarked = p.plan(SITE, deploys, List.of(), Set.of(), NOW);
    assertThat(unmarked.trash()).contains(fiveDays.id(), eightDays.id());
  }

  @Test
  @DisplayName("V8: the same input and clock give the identical plan, whatever the input order")
  void v8() {
    List<Deploy> deploys = new ArrayList<>(oldDeploys());
    List<Alias> aliases = List.of(alias("production", deploys.get(5)));
    GcPlan first = planner.plan(SITE, deploys, aliases, all(deploys), NOW);
    Collections.shuffle(deploys, new Random(3));
    GcPlan second = planner.plan(SITE, deploys, aliases, all(deploys), NOW);
    assertThat(second).isEqualTo(first);
    assertThat(first.trash()).isSorted();
  }

  @Test
  @DisplayName(
      "property: over 5,000 random sites no rule is ever broken and nothing unprotected is kept")
  void property() {
    SplittableRandom random = new SplittableRandom(20260601);
    for (int site = 0; site < 5_000; site++) {
      DeployOptions o =
          options.toBuilder()
              .keepLatest(random.nextInt(0, 5))
              .grace(Duration.ofHours(random.nextInt(0, 100)))
              .retention(Duration.ofDays(random.nextInt(0, 15)))
              .releasedAliasTtl(Duration.ofSeconds(random.nextInt(0, 60)))
              .build();
      List<Deploy> deploys = new ArrayList<>();
      int count = random.nextInt(0, 25);
      for (int n = 0; n < count; n++) {
        DeployState state = random.nextInt(4) == 0 ? DeployState.PENDING : DeployState.ACTIVE;
        Instant released = random.nextBoolean() ? NOW.minusSeconds(random.nextInt(0, 120)) : null;
        Instant created = NOW.minusSeconds(random.nextLong(0, Duration.ofDays(20).toSeconds()));
        DeployId id = DeployId.forSha(created, String.format("%07x", n));
        deploys.add(
            new Deploy(
                SITE,
                id,
                null,
                state,
                id.createdAt(),
                state == DeployState.ACTIVE ? id.createdAt() : null,
                released));
      }
      List<Alias> aliases = new ArrayList<>();
      Set<DeployId> marked = new HashSet<>();
      for (Deploy d : deploys) {
        if (d.isActive() && random.nextInt(5) == 0) {
          aliases.add(new Alias(SITE, AliasName.of("a" + aliases.size()), d.id(), 1, NOW));
        }
        if (d.isActive() ? random.nextInt(10) > 0 : random.nextInt(10) == 0) {
          marked.add(d.id());
        }
      }
      GcPlan plan = new RetentionPlanner(o).plan(SITE, deploys, aliases, marked, NOW);
      checkRules(o, deploys, aliases, marked, plan);
    }
  }

  private static void checkRules(
      DeployOptions o,
      List<Deploy> deploys,
      List<Alias> aliases,
      Set<DeployId> marked,
      GcPlan plan) {
    Set<DeployId> trash = new HashSet<>(plan.trash());
    assertThat(plan.trash().size() + plan.keeps().size()).isEqualTo(deploys.size());
    List<Deploy> activeNewestFirst =
        deploys.stream()
            .filter(Deploy::isActive)
            .sorted((a, b) -> b.id().compareTo(a.id()))
            .toList();
    Set<DeployId> newest = new HashSet<>();
    activeNewestFirst.stream().limit(o.keepLatest()).forEach(d -> newest.add(d.id()));
    for (Deploy d : deploys) {
      boolean aliased = aliases.stream().anyMatch(a -> a.target().equals(d.id()));
      boolean young = NOW.isBefore(d.createdAt().plus(o.grace()));
      boolean released =
          d.releasedAt() != null && NOW.isBefore(d.releasedAt().plus(o.releasedAliasTtl()));
      boolean retained = marked.contains(d.id()) && NOW.isBefore(d.createdAt().plus(o.retention()));
      boolean protectedByRule = aliased || newest.contains(d.id()) || young || released || retained;
      assertThat(trash.contains(d.id()))
          .as(
              "deploy %s aliased=%s newest=%s young=%s released=%s retained=%s",
              d.id(), aliased, newest.contains(d.id()), young, released, retained)
          .isEqualTo(!protectedByRule);
    }
  }

  @Test
  @DisplayName(
      "a deploy a crashed finalize left FINALIZING is kept like a pending one: grace, or retention"
          + " once marked")
  void finalizingIsLikePending() {
    Deploy unmarked = deploy(5, DeployState.FINALIZING, null, 1);
    Deploy marked = deploy(5, DeployState.FINALIZING, null, 2);
    Deploy young = deploy(1, DeployState.FINALIZING, null, 3);
    GcPlan plan =
        planner.plan(SITE, List.of(unmarked, marked, young), List.of(), Set.of(marked.id()), NOW);
    assertThat(plan.trash()).containsExactly(unmarked.id());
    assertThat(plan.keeps())
        .extracting(GcPlan.Keep::deployId)
        .containsExactlyInAnyOrder(marked.id(), young.id());
  }
}
