package dev.durabledeploy.core.gc;

import dev.durabledeploy.core.DeployOptions;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.metadata.Alias;
import dev.durabledeploy.spi.metadata.Deploy;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeMap;

/**
 * The retention rules as a pure function: same input, same clock, same plan (V8). No I/O, no clock
 * of its own, no dependence on input order.
 *
 * <p>A live deploy is kept when any rule protects it — aliased (V1), newest {@code keepLatest}
 * active (V2), younger than {@code grace} (V3), released from an alias less than {@code
 * releasedAliasTtl} ago (V4), marked and younger than {@code retention} (V5), restored less than
 * {@code grace} ago, named by an alias projection object — and trashed otherwise. An unmarked
 * deploy (an unfinished upload, or an active one whose marker is missing) is protected by grace
 * only.
 */
public final class RetentionPlanner {

  private final DeployOptions options;

  public RetentionPlanner(DeployOptions options) {
    this.options = options;
  }

  /**
   * Whether the deploy's marker can change its plan at {@code now}: a marker keeps a deploy only
   * while it is younger than {@code retention} (V5), so the marker of an older one need not be
   * read.
   */
  public boolean markerMatters(Deploy deploy, Instant now) {
    return now.isBefore(deploy.createdAt().plus(options.retention()));
  }

  /** {@link #plan(SiteId, List, List, Set, Set, Instant)} with no alias projection read. */
  public GcPlan plan(
      SiteId site, List<Deploy> deploys, List<Alias> aliases, Set<DeployId> marked, Instant now) {
    return plan(site, deploys, aliases, marked, Set.of(), now);
  }

  /**
   * Plans one site.
   *
   * @param deploys the site's live deploys
   * @param aliases the site's aliases
   * @param marked the deploys whose prefix holds a marker, read from the blob store
   * @param projected the deploys an alias projection object points at, read from the blob store
   */
  public GcPlan plan(
      SiteId site,
      List<Deploy> deploys,
      List<Alias> aliases,
      Set<DeployId> marked,
      Set<DeployId> projected,
      Instant now) {
    Set<DeployId> aliased = new HashSet<>();
    aliases.forEach(a -> aliased.add(a.target()));
    TreeMap<DeployId, Deploy> byId = new TreeMap<>();
    deploys.forEach(d -> byId.put(d.id(), d));
    Set<DeployId> newest = new HashSet<>();
    for (Deploy d : byId.descendingMap().values()) {
      if (newest.size() == options.keepLatest()) {
        break;
      }
      if (d.isActive()) {
        newest.add(d.id());
      }
    }
    List<GcPlan.Keep> keeps = new ArrayList<>();
    List<DeployId> trash = new ArrayList<>();
    for (Deploy d : byId.values()) {
      EnumSet<KeepReason> reasons = EnumSet.noneOf(KeepReason.class);
      if (aliased.contains(d.id())) {
        reasons.add(KeepReason.ALIASED);
      }
      if (newest.contains(d.id())) {
        reasons.add(KeepReason.NEWEST);
      }
      if (now.isBefore(d.createdAt().plus(options.grace()))) {
        reasons.add(KeepReason.GRACE);
      }
      if (d.releasedAt() != null && now.isBefore(d.releasedAt().plus(options.releasedAliasTtl()))) {
        reasons.add(KeepReason.RELEASED_ALIAS_TTL);
      }
      if (marked.contains(d.id()) && markerMatters(d, now)) {
        reasons.add(KeepReason.RETENTION);
      }
      if (d.restoredAt() != null && now.isBefore(d.restoredAt().plus(options.grace()))) {
        reasons.add(KeepReason.RESTORED);
      }
      if (projected.contains(d.id())) {
        reasons.add(KeepReason.PROJECTED);
      }
      if (reasons.isEmpty()) {
        trash.add(d.id());
      } else {
        keeps.add(new GcPlan.Keep(d.id(), reasons));
      }
    }
    return new GcPlan(site, now, keeps, trash);
  }
}
