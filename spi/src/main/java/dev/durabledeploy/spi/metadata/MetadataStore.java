package dev.durabledeploy.spi.metadata;

import dev.durabledeploy.spi.Actor;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.outbox.StandardEvents;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * The deploy index: deploys, aliases, tombstones and the audit log.
 *
 * <p>Every mutation is an <b>atomic command</b>: its checks, its writes, its audit entry and its
 * outbox events (as built by {@link StandardEvents}) commit together or not at all — one SQL
 * transaction, or one Valkey Lua script. Commands take their time from the store's injected {@link
 * java.time.Clock}. A command that finds its work already done changes nothing, appends no event
 * and returns the current state (docs/invariants.md V9); "changes nothing" includes the audit log.
 *
 * <p>Every command that changes anything appends {@link StandardEvents#SITE_CHANGED} last. Unknown
 * deploys raise {@link dev.durabledeploy.spi.DeployNotFoundException}; transient backend trouble
 * {@link dev.durabledeploy.spi.TransientStoreException}. Implementations are thread-safe; mutual
 * exclusion of whole sagas is the {@link dev.durabledeploy.spi.lock.SiteLocks site lock}'s job, not
 * this interface's.
 */
public interface MetadataStore {

  /** Audit action of {@link #createPending}. */
  String ACTION_CREATE = "deploy.create";

  /** Audit action of {@link #activate}. */
  String ACTION_ACTIVATE = "deploy.activate";

  /** Audit action of {@link #beginFinalize}. */
  String ACTION_BEGIN_FINALIZE = "deploy.finalize-begin";

  /** Audit action of {@link #abortFinalize}. */
  String ACTION_ABORT_FINALIZE = "deploy.finalize-abort";

  /** Audit action of {@link #adopt}. */
  String ACTION_ADOPT = "deploy.adopt";

  /** Audit action of {@link #moveAlias}. */
  String ACTION_ALIAS_MOVE = "alias.move";

  /** Audit action of {@link #deleteAlias}. */
  String ACTION_ALIAS_DELETE = "alias.delete";

  /** Audit action of {@link #tombstone}. */
  String ACTION_TOMBSTONE = "deploy.tombstone";

  /** Audit action of {@link #restore}. */
  String ACTION_RESTORE = "deploy.restore";

  /** Audit action of {@link #purgeTombstone}. */
  String ACTION_PURGE = "deploy.purge";

  /** Audit action of {@link #deleteSite}. */
  String ACTION_DELETE_SITE = "site.delete";

  // ---- commands ----------------------------------------------------------------------------

  /**
   * Creates a {@link DeployState#PENDING} deploy. Idempotent: if the deploy already exists with the
   * same sha it is returned unchanged; with another sha (or as a tombstone) it is refused with
   * {@link dev.durabledeploy.spi.DeployStateException}. Events: site.changed.
   *
   * @param sha the commit sha, or {@code null}
   */
  Deploy createPending(SiteId site, DeployId id, String sha, Actor actor);

  /**
   * Seals a deploy for finalize: {@link DeployState#PENDING} becomes {@link
   * DeployState#FINALIZING}, after which uploads into it are refused (an upload that was already
   * writing re-reads the state after its write and withdraws it). The caller verifies the deploy's
   * bytes after this commits, so nothing it verified can change under it. Idempotent: a deploy
   * already FINALIZING is returned unchanged (a finalize resuming one that crashed). Events:
   * site.changed.
   *
   * @throws dev.durabledeploy.spi.DeployStateException when the deploy is ACTIVE
   * @throws dev.durabledeploy.spi.DeployNotFoundException when there is no live deploy with the id
   * @throws UnsupportedOperationException from stores that do not keep the FINALIZING state (see
   *     {@link #supportsFinalizing()}); the default
   */
  default Deploy beginFinalize(SiteId site, DeployId id, Actor actor) {
    throw new UnsupportedOperationException(
        getClass().getName() + " does not keep the FINALIZING state (MetadataStore.beginFinalize)");
  }

  /**
   * Unseals a deploy whose finalize failed its verification: {@link DeployState#FINALIZING} becomes
   * {@link DeployState#PENDING} again, so the client can upload what was missing. Idempotent: a
   * PENDING deploy is returned unchanged. Events: site.changed.
   *
   * @throws dev.durabledeploy.spi.DeployStateException when the deploy is ACTIVE
   * @throws dev.durabledeploy.spi.DeployNotFoundException when there is no live deploy with the id
   * @throws UnsupportedOperationException as {@link #beginFinalize}
   */
  default Deploy abortFinalize(SiteId site, DeployId id, Actor actor) {
    throw new UnsupportedOperationException(
        getClass().getName() + " does not keep the FINALIZING state (MetadataStore.abortFinalize)");
  }

  /**
   * Whether {@link #beginFinalize} and {@link #abortFinalize} are implemented. The default is
   * {@code false}, so a store written against an older version of this interface keeps compiling;
   * the library then serialises every upload with finalize under the site lock instead.
   */
  default boolean supportsFinalizing() {
    return false;
  }

  /**
   * Finalizes a deploy in one atom: the deploy (PENDING or FINALIZING) becomes {@link
   * DeployState#ACTIVE}, {@code alias} moves to it by compare-and-set against {@code expect}, and
   * the deploy the alias targeted before gets {@code releasedAt = now}. Events: alias.changed,
   * site.changed.
   *
   * <p>If the deploy is already ACTIVE and the alias already targets it, nothing changes and the
   * alias is returned (a re-run finalize, V9), whatever {@code expect} says. If it is ACTIVE and
   * the alias targets something else, {@link dev.durabledeploy.spi.DeployStateException}. If {@code
   * expect} does not match, {@link dev.durabledeploy.spi.AliasDriftException} with the current
   * alias and the deploy keeps its state (PENDING or FINALIZING).
   */
  Alias activate(SiteId site, DeployId id, AliasName alias, AliasExpectation expect, Actor actor);

  /**
   * Adds an ACTIVE deploy found in the blob store (backfill) without touching any alias. Never
   * overwrites: returns empty and changes nothing when a deploy or tombstone with this id exists.
   * Events: site.changed.
   */
  Optional<Deploy> adopt(SiteId site, DeployId id, String sha, Instant finalizedAt, Actor actor);

  /**
   * Points {@code alias} at {@code target} by compare-and-set against {@code expect} (promote,
   * rollback), creating the alias at version 1 if it does not exist and {@code expect} allows it.
   * The previous target gets {@code releasedAt = now}. The target must be an ACTIVE deploy ({@link
   * dev.durabledeploy.spi.DeployStateException} if pending). If the alias already targets {@code
   * target} and {@code expect} matches, nothing changes and the alias is returned (V9); a stale
   * expectation is drift even then, so a caller never mistakes someone else's move for its own.
   * Events: alias.changed, site.changed.
   *
   * @throws dev.durabledeploy.spi.AliasDriftException if {@code expect} does not match
   */
  Alias moveAlias(
      SiteId site, AliasName alias, DeployId target, AliasExpectation expect, Actor actor);

  /**
   * Deletes an alias by compare-and-set; its target gets {@code releasedAt = now}. The alias's
   * version keeps counting (a re-created alias continues above the deleted one's version). Returns
   * false and changes nothing when the alias does not exist. Events: alias.changed (with an empty
   * deployId), site.changed.
   */
  boolean deleteAlias(SiteId site, AliasName alias, AliasExpectation expect, Actor actor);

  /**
   * Soft-deletes a deploy: the deploy row becomes a {@link Tombstone} expiring at {@code now +
   * recoveryWindow}. Refused atomically with {@link dev.durabledeploy.spi.DeployAliasedException}
   * when any alias targets the deploy (docs/invariants.md V1). Idempotent: an existing tombstone is
   * returned unchanged. The caller moves the bytes to trash after this commits (V6). Events:
   * deploy.deleted, site.changed.
   */
  Tombstone tombstone(SiteId site, DeployId id, Duration recoveryWindow, Actor actor);

  /**
   * Turns a tombstone back into its deploy row (never writes an alias). The caller moves the bytes
   * back before calling this. Idempotent: a live deploy with no tombstone is returned unchanged.
   * Events: deploy.restored, site.changed.
   *
   * @throws dev.durabledeploy.spi.TombstoneExpiredException if the recovery window has closed
   */
  Deploy restore(SiteId site, DeployId id, Actor actor);

  /**
   * Removes a tombstone for good; the caller deleted its bytes first (V6). Returns false and
   * changes nothing when there is none. Events: deploy.purged, site.changed.
   */
  boolean purgeTombstone(SiteId site, DeployId id, Actor actor);

  /**
   * Removes every deploy, alias and tombstone of the site. Idempotent. Outbox events already
   * appended stay and are delivered. Events: site.deleted (no site.changed).
   */
  SiteDeletion deleteSite(SiteId site, Actor actor);

  // ---- queries -----------------------------------------------------------------------------

  Optional<Deploy> findDeploy(SiteId site, DeployId id);

  /** Every live (not tombstoned) deploy of the site, ordered by id (oldest first). */
  List<Deploy> listDeploys(SiteId site);

  Optional<Alias> findAlias(SiteId site, AliasName alias);

  /** Every alias of the site, ordered by name. Deleted aliases are not listed. */
  List<Alias> listAliases(SiteId site);

  Optional<Tombstone> findTombstone(SiteId site, DeployId id);

  /** Every tombstone of the site, ordered by deploy id. */
  List<Tombstone> listTombstones(SiteId site);

  /** Up to {@code limit} tombstones of any site with {@code expiresAt <= cutoff}, oldest first. */
  List<Tombstone> listExpiredTombstones(Instant cutoff, int limit);

  /**
   * Up to {@code limit} sites that have any deploy, alias or tombstone, ordered by id, starting
   * after {@code after} (null: from the first).
   */
  List<SiteId> listSites(SiteId after, int limit);

  /** The newest {@code limit} audit entries of the site, newest first. */
  List<AuditEntry> auditLog(SiteId site, int limit);
}
