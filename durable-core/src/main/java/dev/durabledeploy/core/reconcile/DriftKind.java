package dev.durabledeploy.core.reconcile;

/** Every way the blob store and the index can disagree about a site (DESIGN.md E6). */
public enum DriftKind {
  /**
   * A {@code purgeSite} that started and did not finish (its intent is still recorded): repaired by
   * finishing the purge, which also settles every other drift of the site.
   */
  PURGE_UNFINISHED,
  /** Bytes under {@code deploys/<id>/} without a marker, row or tombstone: an abandoned upload. */
  BYTES_WITHOUT_ROW,
  /** A marked (finalized) prefix the index does not know: adopt it. */
  MARKED_PREFIX_UNKNOWN,
  /** An active row whose bytes are gone. */
  ROW_WITHOUT_BYTES,
  /** A tombstone of a finalized deploy whose trash bytes are gone. */
  TOMBSTONE_WITHOUT_TRASH,
  /** Trash bytes without a tombstone. */
  TRASH_WITHOUT_TOMBSTONE,
  /** A tombstone whose bytes are (still, or again) under {@code deploys/}: a crashed delete. */
  TOMBSTONE_WITH_LIVE_BYTES,
  /** A live row with bytes in trash: a crashed restore. */
  ROW_WITH_TRASH_BYTES,
  /** An alias whose target is not a live deploy. Reported, never repaired automatically. */
  ALIAS_TO_MISSING_DEPLOY,
  /** A prefix whose name is not a deploy id. Reported, never touched. */
  UNRECOGNIZED_PREFIX,
  /**
   * An object under a key that is not a valid blob key (a console "folder" object, an empty
   * segment, a control character), written by something other than the library. Reported with its
   * key rendered safely; never repaired on its own, but it moves and goes with the prefix it lies
   * in (a deploy trashed, restored or purged, a site purged).
   */
  FOREIGN_KEY
}
