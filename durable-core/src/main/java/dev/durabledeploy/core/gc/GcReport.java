package dev.durabledeploy.core.gc;

import dev.durabledeploy.spi.DeployId;
import java.util.List;

/**
 * What one GC run did.
 *
 * @param trashed deploys tombstoned and moved to trash, oldest first
 * @param deferred planned for trash but over the blast cap (or all of them with a cap of 0)
 * @param refused planned for trash but aliased by the time of the move (V1 held)
 * @param dryRun nothing was written
 */
public record GcReport(
    GcPlan plan,
    List<DeployId> trashed,
    List<DeployId> deferred,
    List<DeployId> refused,
    boolean dryRun) {

  public GcReport {
    trashed = List.copyOf(trashed);
    deferred = List.copyOf(deferred);
    refused = List.copyOf(refused);
  }

  @Override
  public String toString() {
    return "GC of "
        + plan.site()
        + (dryRun ? " (dry run)" : "")
        + ": kept "
        + plan.keeps().size()
        + ", trashed "
        + trashed.size()
        + ", deferred by the blast cap "
        + deferred.size()
        + ", refused "
        + refused.size()
        + (dryRun ? ", would trash " + plan.trash() : "");
  }
}
