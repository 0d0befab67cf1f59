package dev.durabledeploy.core.gc;

import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import java.time.Instant;
import java.util.List;
import java.util.Set;

/**
 * What retention would do to one site at one instant: every live deploy is either kept, with all
 * the reasons that protect it, or trashed. Trash is ordered oldest first, so a blast cap trashes
 * the oldest.
 */
public record GcPlan(SiteId site, Instant at, List<Keep> keeps, List<DeployId> trash) {

  public GcPlan {
    keeps = List.copyOf(keeps);
    trash = List.copyOf(trash);
  }

  /** A kept deploy and every reason that keeps it (never empty). */
  public record Keep(DeployId deployId, Set<KeepReason> reasons) {
    public Keep {
      reasons = Set.copyOf(reasons);
    }
  }
}
