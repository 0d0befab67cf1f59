package dev.durabledeploy.core.reconcile;

/** Every way the blob store and the index can disagree about a site (docs/invariants.md E6). */
public enum DriftKind {
  /**
   * A {@code purgeSite} that started and did not finish (its intent is still recorded): repaired by
   * finishing the purge, which also settles every other drift of the site.
   */
  PURGE_UNFINISHED,
  /**
   * Bytes under {@code deploys/<id>/} without a marker, row or tombstone: an abandoned upload. Past
   * grace, apply moves them to trash under a tombstone of a PENDING deploy, restorable as one.
   */
  BYTES_WITHOUT_ROW,
  /** A marked (finalized) prefix the index does not know: adopt it. */
  MARKED_PREFIX_UNKNOWN,
  /** An active row whose bytes are gone. */
  ROW_WITHOUT_BYTES,
  /** A tombstone of a finalized deploy whose trash bytes are gone. */
  TOMBSTONE_WITHOUT_TRASH,
  /**
   * Trash bytes without a tombstone. Past grace, apply gives them a tombstone (of the ACTIVE deploy
   * their marker describes, else of a PENDING one), so they are restorable within the recovery
   * window and purged after it, like any deleted deploy.
   */
  TRASH_WITHOUT_TOMBSTONE,
  /** A tombstone whose bytes are (still, or again) under {@code deploys/}: a crashed delete. */
  TOMBSTONE_WITH_LIVE_BYTES,
  /** A live row with bytes in trash: a crashed restore. */
  ROW_WITH_TRASH_BYTES,
  /**
   * A deploy left FINALIZING by a finalize that crashed, before or after writing its marker (no
   * finalize runs while the reconciler holds the site lock). Repaired by unsealing it back to
   * PENDING; the client's next finalize verifies it again, as would resuming it.
   */
  FINALIZE_UNFINISHED,
  /**
   * A file of a finalized deploy whose bytes are no longer those finalize verified: its size, or
   * its etag and SHA-256, differ from the marker's record, or it is gone (subject {@code
   * <deployId>/<path>}). Reported, never repaired: the verified bytes are kept nowhere else, so the
   * fix is a new deploy. Where the store re-tags an unchanged object on a copy and neither side
   * knows the SHA-256 (S3 objects above the multipart threshold restored from trash) this is
   * reported too, saying so.
   */
  CONTENT_CHANGED,
  /**
   * A file under a finalized deploy's prefix that its marker does not list: written after finalize
   * verified the deploy, by an upload that died before withdrawing it (subject {@code
   * <deployId>/<path>}). Deleted on apply once the deploy was finalized longer than the grace
   * period ago, within the blast cap.
   */
  FILE_ADDED_AFTER_FINALIZE,
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
  FOREIGN_KEY,
  /**
   * A site with no row in the index (no deploy, tombstone or alias) whose bucket holds marked
   * deploy prefixes: a lost or new index (subject: the site). Adopted on apply by {@link Backfill},
   * as {@code plane.backfill().site(site)} would; each prefix is also reported as {@link
   * #MARKED_PREFIX_UNKNOWN}.
   */
  SITE_NOT_INDEXED,
  /**
   * An alias row without its projection object {@code <site>/aliases/<alias>.json}, once the row's
   * {@code alias.changed} event is delivered (no outbox event as old as the row's change is left)
   * (subject {@code alias:<name>}). Re-projected on apply, by {@code AliasProjection}.
   */
  ALIAS_PROJECTION_MISSING,
  /**
   * An alias projection that disagrees with its row: an older version or a deletion, once the row's
   * event is delivered; another target at the row's version or a newer one, at once (no event
   * explains it). Re-projected on apply, by {@code AliasProjection}.
   */
  ALIAS_PROJECTION_STALE,
  /**
   * A projection object that names a target for an alias without a live row. Where the index
   * deleted the alias (its deleted row keeps the version), it is drift once that deletion's event
   * is delivered, and apply projects the deletion, as {@code AliasProjection} projects every
   * deleted alias, within the blast cap. With no alias row ever (a lost index adopted from its
   * bucket) it is drift at once and deferred: the projection is the one record of the alias, and
   * restoring it (a promote) is a human's call.
   */
  ALIAS_PROJECTION_ORPHAN,
  /**
   * A site's bytes where its record says they are not: a trashed site with bytes under {@code
   * <site>/}, or an active one with bytes in the site trash ({@code _trash-site/<site>/}), left by
   * a trash or a restore that crashed between its record and its byte move. Apply moves them where
   * the record says they belong. The only drift a trashed site reports: its deploys are kept whole
   * in the site trash, and nothing else of it is checked until it is restored.
   */
  SITE_TRASH_UNFINISHED
}
