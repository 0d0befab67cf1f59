package dev.durabledeploy.core.gc;

/** Why the retention planner keeps a deploy; each maps to one invariant of docs/invariants.md. */
public enum KeepReason {
  /** An alias targets it (V1). */
  ALIASED,
  /** It is among the newest {@code keepLatest} active deploys (V2). */
  NEWEST,
  /** It is younger than the grace period (V3). */
  GRACE,
  /** An alias moved away from it less than the released-alias TTL ago (V4). */
  RELEASED_ALIAS_TTL,
  /** It is marked (finalized) and younger than the retention (V5). */
  RETENTION,
  /**
   * It was restored from a tombstone less than the grace period ago: a restore is never undone by
   * the GC it triggers, whatever the deploy's age (V3; issue 20).
   */
  RESTORED,
  /**
   * An alias projection object in the blob store points at it, so a serve plane reading the bucket
   * may be serving it even though no alias row targets it: a bucket adopted by backfill whose
   * aliases were not restored, a move whose {@code alias-project} has not run yet, an index that
   * lost an alias row (V1).
   */
  PROJECTED
}
