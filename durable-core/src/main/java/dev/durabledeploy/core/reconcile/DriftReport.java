package dev.durabledeploy.core.reconcile;

import dev.durabledeploy.spi.SiteId;
import java.time.Instant;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * What a reconcile found and, when applied, did.
 *
 * @param drifts every disagreement found
 * @param repaired those repaired (only with apply)
 * @param deferred destructive repairs held back by grace or the blast cap
 * @param refusal why apply refused to repair anything, or {@code null}
 */
public record DriftReport(
    SiteId site,
    Instant at,
    List<Drift> drifts,
    List<Drift> repaired,
    List<Drift> deferred,
    String refusal) {

  public DriftReport {
    drifts = List.copyOf(drifts);
    repaired = List.copyOf(repaired);
    deferred = List.copyOf(deferred);
  }

  public boolean isClean() {
    return drifts.isEmpty();
  }

  /** How many drifts of each kind. */
  public Map<DriftKind, Integer> counts() {
    Map<DriftKind, Integer> counts = new EnumMap<>(DriftKind.class);
    drifts.forEach(d -> counts.merge(d.kind(), 1, Integer::sum));
    return counts;
  }

  @Override
  public String toString() {
    return "drift of "
        + site
        + ": "
        + counts()
        + (repaired.isEmpty() ? "" : ", repaired " + repaired.size())
        + (deferred.isEmpty() ? "" : ", deferred " + deferred.size())
        + (refusal == null ? "" : ", refused: " + refusal);
  }
}
