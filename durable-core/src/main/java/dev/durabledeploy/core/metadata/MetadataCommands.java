package dev.durabledeploy.core.metadata;

import dev.durabledeploy.spi.Actor;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.exception.AliasDriftException;
import dev.durabledeploy.spi.exception.DeployAliasedException;
import dev.durabledeploy.spi.exception.DeployNotFoundException;
import dev.durabledeploy.spi.exception.DeployStateException;
import dev.durabledeploy.spi.exception.InvalidInputException;
import dev.durabledeploy.spi.exception.SiteNotFoundException;
import dev.durabledeploy.spi.exception.SiteStateException;
import dev.durabledeploy.spi.exception.TombstoneExpiredException;
import dev.durabledeploy.spi.metadata.Alias;
import dev.durabledeploy.spi.metadata.AliasExpectation;
import dev.durabledeploy.spi.metadata.AliasRow;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.spi.metadata.DeployState;
import dev.durabledeploy.spi.metadata.MetadataStore;
import dev.durabledeploy.spi.metadata.RowSelection;
import dev.durabledeploy.spi.metadata.Site;
import dev.durabledeploy.spi.metadata.SiteDeletion;
import dev.durabledeploy.spi.metadata.SiteProfile;
import dev.durabledeploy.spi.metadata.SiteRows;
import dev.durabledeploy.spi.metadata.SiteState;
import dev.durabledeploy.spi.metadata.Tombstone;
import dev.durabledeploy.spi.outbox.StandardEvents;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;

/**
 * The deploy index's commands, decided once for every store: each is one {@link
 * MetadataStore#inSite unit of work} over one site's rows, so its checks, its writes, its audit
 * entry and its outbox events (as built by {@link StandardEvents}) commit together or not at all.
 * The store provides the atom; this class provides the rules (the V1 refusal, alias
 * compare-and-set, release stamps, idempotence, audit and events).
 *
 * <p>A command that finds its work already done changes nothing, appends no event and returns the
 * current state (docs/invariants.md V9); "changes nothing" includes the audit log. Every command
 * that changes anything appends {@link StandardEvents#SITE_CHANGED} last. Unknown deploys raise
 * {@link DeployNotFoundException}; transient backend trouble the store's {@link
 * dev.durabledeploy.spi.exception.TransientStoreException}. Thread-safe: it holds no state of its
 * own.
 *
 * <p>These are the index's rules, not a saga: a command moves rows, never bytes, and takes no site
 * lock. Hosts deploy through {@link dev.durabledeploy.core.deploy.DeployService}, which calls these
 * in the right order under the site's lock.
 */
public final class MetadataCommands {

  /** Audit action of {@link #createPending}. */
  public static final String ACTION_CREATE = "deploy.create";

  /** Audit action of {@link #activate}. */
  public static final String ACTION_ACTIVATE = "deploy.activate";

  /** Audit action of {@link #beginFinalize}. */
  public static final String ACTION_BEGIN_FINALIZE = "deploy.finalize-begin";

  /** Audit action of {@link #abortFinalize}. */
  public static final String ACTION_ABORT_FINALIZE = "deploy.finalize-abort";

  /** Audit action of {@link #adopt}. */
  public static final String ACTION_ADOPT = "deploy.adopt";

  /** Audit action of {@link #moveAlias}. */
  public static final String ACTION_ALIAS_MOVE = "alias.move";

  /** Audit action of {@link #restoreAlias}. */
  public static final String ACTION_ALIAS_RESTORE = "alias.restore";

  /** Audit action of {@link #deleteAlias}. */
  public static final String ACTION_ALIAS_DELETE = "alias.delete";

  /** Audit action of {@link #tombstone}. */
  public static final String ACTION_TOMBSTONE = "deploy.tombstone";

  /** Audit action of {@link #tombstoneOrphan}. */
  public static final String ACTION_TOMBSTONE_ORPHAN = "deploy.tombstone-orphan";

  /** Audit action of {@link #restore}. */
  public static final String ACTION_RESTORE = "deploy.restore";

  /** Audit action of {@link #purgeTombstone}. */
  public static final String ACTION_PURGE = "deploy.purge";

  /** Audit action of {@link #deleteSite}. */
  public static final String ACTION_DELETE_SITE = "site.delete";

  /** Audit action of {@link #registerSite} and of a registration by a first deploy. */
  public static final String ACTION_REGISTER_SITE = "site.register";

  /** Audit action of {@link #updateSite}. */
  public static final String ACTION_UPDATE_SITE = "site.update";

  /** Audit action of {@link #trashSite}. */
  public static final String ACTION_TRASH_SITE = "site.trash";

  /** Audit action of {@link #restoreSite}. */
  public static final String ACTION_RESTORE_SITE = "site.restore";

  /** The selection of a command that reads only the site's record (and its aliases). */
  private static final RowSelection RECORD_ONLY = RowSelection.of(List.of(), List.of());

  private final MetadataStore store;

  public MetadataCommands(MetadataStore store) {
    this.store = Objects.requireNonNull(store, "store");
  }

  /** The store the commands run on, for its queries. */
  public MetadataStore store() {
    return store;
  }

  /** Whether the site has a deploy, a live alias or a tombstone (listed by listSites). */
  private static boolean hasContent(SiteRows s) {
    return s.deployCount() > 0
        || s.tombstoneCount() > 0
        || s.aliases().values().stream().anyMatch(a -> a.target() != null);
  }

  /**
   * Moves {@code name} to {@code target} (null: delete) and releases the previous target. A deleted
   * alias is version 0 to expectations but continues its version when re-created.
   */
  private static AliasRow move(
      SiteId site, SiteRows s, AliasName name, DeployId target, AliasExpectation expect) {
    AliasRow row = s.aliases().get(name);
    DeployId previous = row == null ? null : row.target();
    checkExpectation(site, name, row, expect);
    long version = (row == null ? 0 : row.version()) + 1;
    AliasRow next = new AliasRow(target, version, s.now());
    s.putAlias(name, next);
    if (previous != null && !previous.equals(target)) {
      release(s, previous);
    }
    s.emit(StandardEvents.aliasChanged(site, name, target, version, previous));
    return next;
  }

  /** Stamps {@code releasedAt = now} on a deploy an alias moved away from (V4). */
  private static void release(SiteRows s, DeployId previous) {
    Deploy released = s.deploy(previous);
    if (released != null) {
      s.putDeploy(
          new Deploy(
              released.site(),
              released.id(),
              released.sha(),
              released.state(),
              released.createdAt(),
              released.finalizedAt(),
              s.now(),
              released.restoredAt()));
    }
  }

  private static void checkExpectation(
      SiteId site, AliasName name, AliasRow row, AliasExpectation expect) {
    DeployId current = row == null ? null : row.target();
    long visibleVersion = current == null ? 0 : row.version();
    if (!expect.matches(visibleVersion, current)) {
      throw new AliasDriftException(
          site, name, row == null ? null : row.toAlias(site, name), expect);
    }
  }

  /** The deploy the command names, which must exist. */
  private static Deploy existing(SiteRows s, SiteId site, DeployId id) {
    Deploy deploy = s.deploy(id);
    if (deploy == null) {
      throw new DeployNotFoundException(site, id);
    }
    return deploy;
  }

  private static String describe(DeployId id) {
    return id == null ? null : id.value();
  }

  private static String lower(DeployState state) {
    return state.name().toLowerCase(Locale.ROOT);
  }

  /**
   * Creates a {@link DeployState#PENDING} deploy. Idempotent: if the deploy already exists with the
   * same sha it is returned unchanged; with another sha (or as a tombstone) it is refused with
   * {@link dev.durabledeploy.spi.exception.DeployStateException}. Events: site.changed.
   *
   * @param sha the commit sha, or {@code null}
   */
  public Deploy createPending(SiteId site, DeployId id, String sha, Actor actor) {
    return createPending(site, id, sha, actor, true);
  }

  /**
   * {@link #createPending(SiteId, DeployId, String, Actor)}, on a site that must be {@link
   * SiteState#ACTIVE}: a trashed or purging site refuses it with {@link SiteStateException}. An
   * unregistered site is registered in the same atom when {@code registerUnknown} (profile: the
   * slug as display name, the actor as owner; events: site.registered), else refused with {@link
   * SiteNotFoundException}.
   */
  public Deploy createPending(
      SiteId site, DeployId id, String sha, Actor actor, boolean registerUnknown) {
    requireArgs(site, id, actor);
    if (sha != null) {
      DeployId.requireSha(sha);
    }
    return store.inSite(
        ACTION_CREATE,
        site,
        RowSelection.of(List.of(id), List.of(id)),
        s -> {
          requireActiveSite(s, site, "a new deploy");
          Tombstone tombstone = s.tombstone(id);
          if (tombstone != null) {
            throw new DeployStateException(site, id, tombstone.deploy().state(), "it was deleted");
          }
          Deploy existing = s.deploy(id);
          if (existing != null) {
            if (Objects.equals(existing.sha(), sha)) {
              return existing;
            }
            throw new DeployStateException(
                site, id, existing.state(), "it already exists with another sha");
          }
          if (s.site() == null) {
            if (!registerUnknown) {
              throw new SiteNotFoundException(
                  site,
                  "register it first (plane.sites().register); this plane refuses deploys to"
                      + " unregistered sites (DeployOptions.requireRegisteredSites)");
            }
            registerDefault(s, site, actor);
          }
          Deploy created = new Deploy(site, id, sha, DeployState.PENDING, s.now(), null, null);
          s.putDeploy(created);
          s.audit(actor, ACTION_CREATE, id.value(), null, "pending");
          s.emit(StandardEvents.siteChanged(site, ACTION_CREATE));
          return created;
        });
  }

  /**
   * Finalizes a deploy in one atom: the deploy (PENDING or FINALIZING) becomes {@link
   * DeployState#ACTIVE}, {@code alias} moves to it by compare-and-set against {@code expect}, and
   * the deploy the alias targeted before gets {@code releasedAt = now}. Events: alias.changed,
   * site.changed.
   *
   * <p>If the deploy is already ACTIVE and the alias already targets it, nothing changes and the
   * alias is returned (a re-run finalize, V9), whatever {@code expect} says. If it is ACTIVE and
   * the alias targets something else, {@link dev.durabledeploy.spi.exception.DeployStateException}.
   * If {@code expect} does not match, {@link dev.durabledeploy.spi.exception.AliasDriftException}
   * with the current alias and the deploy keeps its state (PENDING or FINALIZING).
   */
  public Alias activate(
      SiteId site, DeployId id, AliasName alias, AliasExpectation expect, Actor actor) {
    requireArgs(site, id, actor);
    Objects.requireNonNull(alias, "alias");
    Objects.requireNonNull(expect, "expect");
    return store.inSite(
        ACTION_ACTIVATE,
        site,
        RowSelection.of(List.of(id), List.of()),
        s -> {
          requireActiveSite(s, site, "a finalize");
          Deploy deploy = existing(s, site, id);
          AliasRow row = s.aliases().get(alias);
          if (deploy.isActive()) {
            if (row != null && id.equals(row.target())) {
              return row.toAlias(site, alias);
            }
            throw new DeployStateException(
                site,
                id,
                DeployState.ACTIVE,
                "it is already finalized; move alias '" + alias + "' to it instead");
          }
          DeployId previous = row == null ? null : row.target();
          AliasRow moved = move(site, s, alias, id, expect);
          s.putDeploy(
              new Deploy(
                  site,
                  id,
                  deploy.sha(),
                  DeployState.ACTIVE,
                  deploy.createdAt(),
                  s.now(),
                  null,
                  deploy.restoredAt()));
          s.audit(actor, ACTION_ACTIVATE, id.value(), describe(previous), alias.value());
          s.emit(StandardEvents.siteChanged(site, ACTION_ACTIVATE));
          return moved.toAlias(site, alias);
        });
  }

  /**
   * Seals a deploy for finalize: {@link DeployState#PENDING} becomes {@link
   * DeployState#FINALIZING}, after which uploads into it are refused (an upload that was already
   * writing re-reads the state after its write and withdraws it). The caller verifies the deploy's
   * bytes after this commits, so nothing it verified can change under it. Idempotent: a deploy
   * already FINALIZING is returned unchanged (a finalize resuming one that crashed). Events:
   * site.changed.
   *
   * @throws dev.durabledeploy.spi.exception.DeployStateException when the deploy is ACTIVE
   * @throws dev.durabledeploy.spi.exception.DeployNotFoundException when there is no live deploy
   *     with the id
   */
  public Deploy beginFinalize(SiteId site, DeployId id, Actor actor) {
    return reseal(site, id, actor, DeployState.PENDING, DeployState.FINALIZING);
  }

  /**
   * Unseals a deploy whose finalize failed its verification: {@link DeployState#FINALIZING} becomes
   * {@link DeployState#PENDING} again, so the client can upload what was missing. Idempotent: a
   * PENDING deploy is returned unchanged. Events: site.changed.
   *
   * @throws dev.durabledeploy.spi.exception.DeployStateException when the deploy is ACTIVE
   * @throws dev.durabledeploy.spi.exception.DeployNotFoundException when there is no live deploy
   *     with the id
   */
  public Deploy abortFinalize(SiteId site, DeployId id, Actor actor) {
    return reseal(site, id, actor, DeployState.FINALIZING, DeployState.PENDING);
  }

  /** Moves a deploy {@code from -> to} (PENDING and FINALIZING only); {@code to} is a no-op. */
  private Deploy reseal(SiteId site, DeployId id, Actor actor, DeployState from, DeployState to) {
    requireArgs(site, id, actor);
    String action = to == DeployState.FINALIZING ? ACTION_BEGIN_FINALIZE : ACTION_ABORT_FINALIZE;
    return store.inSite(
        action,
        site,
        RowSelection.of(List.of(id), List.of()),
        s -> {
          requireActiveSite(s, site, "a finalize");
          Deploy deploy = existing(s, site, id);
          if (deploy.state() == to) {
            return deploy;
          }
          if (deploy.state() != from) {
            throw new DeployStateException(
                site,
                id,
                deploy.state(),
                "it is already finalized; only a pending deploy is sealed or unsealed");
          }
          Deploy moved =
              new Deploy(
                  site,
                  id,
                  deploy.sha(),
                  to,
                  deploy.createdAt(),
                  deploy.finalizedAt(),
                  deploy.releasedAt(),
                  deploy.restoredAt());
          s.putDeploy(moved);
          s.audit(actor, action, id.value(), lower(from), lower(to));
          s.emit(StandardEvents.siteChanged(site, action));
          return moved;
        });
  }

  /**
   * Adds an ACTIVE deploy found in the blob store (backfill) without touching any alias. Never
   * overwrites: returns empty and changes nothing when a deploy or tombstone with this id exists.
   * Events: site.changed.
   */
  public Optional<Deploy> adopt(
      SiteId site, DeployId id, String sha, Instant finalizedAt, Actor actor) {
    requireArgs(site, id, actor);
    Objects.requireNonNull(finalizedAt, "finalizedAt");
    if (sha != null) {
      DeployId.requireSha(sha);
    }
    return store.inSite(
        ACTION_ADOPT,
        site,
        RowSelection.of(List.of(id), List.of(id)),
        s -> {
          // Already indexed comes first: an adoption that changes nothing is no refusal, even in
          // a trashed site.
          if (s.deploy(id) != null || s.tombstone(id) != null) {
            return Optional.empty();
          }
          requireActiveSite(s, site, "an adoption");
          if (s.site() == null) {
            registerDefault(s, site, actor);
          }
          Deploy adopted =
              new Deploy(
                  site, id, sha, DeployState.ACTIVE, id.createdAt(), s.stored(finalizedAt), null);
          s.putDeploy(adopted);
          s.audit(actor, ACTION_ADOPT, id.value(), null, "active");
          s.emit(StandardEvents.siteChanged(site, ACTION_ADOPT));
          return Optional.of(adopted);
        });
  }

  /**
   * Points {@code alias} at {@code target} by compare-and-set against {@code expect} (promote,
   * rollback), creating the alias at version 1 if it does not exist and {@code expect} allows it.
   * The previous target gets {@code releasedAt = now}. The target must be an ACTIVE deploy ({@link
   * dev.durabledeploy.spi.exception.DeployStateException} if pending). If the alias already targets
   * {@code target} and {@code expect} matches, nothing changes and the alias is returned (V9); a
   * stale expectation is drift even then, so a caller never mistakes someone else's move for its
   * own. Events: alias.changed, site.changed.
   *
   * @throws dev.durabledeploy.spi.exception.AliasDriftException if {@code expect} does not match
   */
  public Alias moveAlias(
      SiteId site, AliasName alias, DeployId target, AliasExpectation expect, Actor actor) {
    requireArgs(site, target, actor);
    Objects.requireNonNull(alias, "alias");
    Objects.requireNonNull(expect, "expect");
    return store.inSite(
        ACTION_ALIAS_MOVE,
        site,
        RowSelection.of(List.of(target), List.of()),
        s -> {
          requireActiveSite(s, site, "an alias move");
          Deploy deploy = existing(s, site, target);
          if (!deploy.isActive()) {
            throw new DeployStateException(
                site, target, deploy.state(), "only finalized deploys can be aliased");
          }
          AliasRow row = s.aliases().get(alias);
          checkExpectation(site, alias, row, expect);
          if (row != null && target.equals(row.target())) {
            return row.toAlias(site, alias);
          }
          DeployId previous = row == null ? null : row.target();
          AliasRow moved = move(site, s, alias, target, expect);
          s.audit(
              actor,
              ACTION_ALIAS_MOVE,
              "alias:" + alias.value(),
              describe(previous),
              target.value());
          s.emit(StandardEvents.siteChanged(site, ACTION_ALIAS_MOVE));
          return moved.toAlias(site, alias);
        });
  }

  /**
   * Recreates an alias from its projection object in the blob store (backfill): {@code alias} is
   * set to {@code target} at exactly {@code version} when its row is missing or older than {@code
   * version} (a deleted row included). A row at {@code version} or above is left as it is, so an
   * alias never moves backwards, and a restore run again changes nothing (V9). A row below the
   * projection's version is moved forward because the projection is what serve planes serve, and a
   * row that kept its lower version would have its next moves refused by the projection's version
   * guard until it caught up. The previous target, if any, gets {@code releasedAt = now}. Events:
   * alias.changed, site.changed.
   *
   * @return the alias as restored, or empty when the row was left alone
   * @throws DeployNotFoundException when {@code target} is not a live deploy
   * @throws DeployStateException when {@code target} is not finalized
   * @throws InvalidInputException field {@code version} when it is below 1
   */
  public Optional<Alias> restoreAlias(
      SiteId site, AliasName alias, DeployId target, long version, Actor actor) {
    requireArgs(site, target, actor);
    Objects.requireNonNull(alias, "alias");
    if (version < 1) {
      throw new InvalidInputException("version", "is " + version + "; alias versions start at 1");
    }
    return store.inSite(
        ACTION_ALIAS_RESTORE,
        site,
        RowSelection.of(List.of(target), List.of()),
        s -> {
          AliasRow row = s.aliases().get(alias);
          if (row != null && row.version() >= version) {
            // The row is as new as the projection or newer: whatever the projection names, the
            // row decides (a stale projection's target may be long gone).
            return Optional.empty();
          }
          Deploy deploy = existing(s, site, target);
          if (!deploy.isActive()) {
            throw new DeployStateException(
                site, target, deploy.state(), "only finalized deploys can be aliased");
          }
          DeployId previous = row == null ? null : row.target();
          AliasRow restored = new AliasRow(target, version, s.now());
          s.putAlias(alias, restored);
          if (previous != null && !previous.equals(target)) {
            release(s, previous);
          }
          s.emit(StandardEvents.aliasChanged(site, alias, target, version, previous));
          s.audit(
              actor,
              ACTION_ALIAS_RESTORE,
              "alias:" + alias.value(),
              describe(previous),
              target.value() + "@" + version);
          s.emit(StandardEvents.siteChanged(site, ACTION_ALIAS_RESTORE));
          return Optional.of(restored.toAlias(site, alias));
        });
  }

  /**
   * Deletes an alias by compare-and-set; its target gets {@code releasedAt = now}. The alias's
   * version keeps counting (a re-created alias continues above the deleted one's version). Returns
   * false and changes nothing when the alias does not exist. Events: alias.changed (with an empty
   * deployId), site.changed.
   */
  public boolean deleteAlias(SiteId site, AliasName alias, AliasExpectation expect, Actor actor) {
    Objects.requireNonNull(site, "site");
    Objects.requireNonNull(alias, "alias");
    Objects.requireNonNull(expect, "expect");
    Objects.requireNonNull(actor, "actor");
    return store.inSite(
        ACTION_ALIAS_DELETE,
        site,
        RowSelection.of(List.of(), List.of()),
        s -> {
          requireActiveSite(s, site, "an alias deletion");
          AliasRow row = s.aliases().get(alias);
          if (row == null || row.target() == null) {
            return false;
          }
          DeployId previous = row.target();
          move(site, s, alias, null, expect);
          s.audit(actor, ACTION_ALIAS_DELETE, "alias:" + alias.value(), previous.value(), null);
          s.emit(StandardEvents.siteChanged(site, ACTION_ALIAS_DELETE));
          return true;
        });
  }

  /**
   * Soft-deletes a deploy: the deploy row becomes a {@link Tombstone} expiring at {@code now +
   * recoveryWindow}. Refused atomically with {@link
   * dev.durabledeploy.spi.exception.DeployAliasedException} when any alias targets the deploy
   * (docs/invariants.md V1). Idempotent: an existing tombstone is returned unchanged. The caller
   * moves the bytes to trash after this commits (V6). Events: deploy.deleted, site.changed.
   */
  public Tombstone tombstone(SiteId site, DeployId id, Duration recoveryWindow, Actor actor) {
    requireArgs(site, id, actor);
    requireWindow(recoveryWindow);
    return store.inSite(
        ACTION_TOMBSTONE,
        site,
        RowSelection.of(List.of(id), List.of(id)),
        s -> {
          requireActiveSite(s, site, "a deploy deletion");
          Tombstone existing = s.tombstone(id);
          if (existing != null) {
            return existing;
          }
          Deploy deploy = existing(s, site, id);
          List<AliasName> aliased = new ArrayList<>();
          s.aliases()
              .forEach(
                  (name, row) -> {
                    if (id.equals(row.target())) {
                      aliased.add(name);
                    }
                  });
          if (!aliased.isEmpty()) {
            throw new DeployAliasedException(site, id, aliased);
          }
          s.removeDeploy(id);
          Tombstone tombstone =
              new Tombstone(deploy, s.now(), s.stored(s.now().plus(recoveryWindow)));
          s.putTombstone(tombstone);
          s.audit(
              actor,
              ACTION_TOMBSTONE,
              id.value(),
              lower(deploy.state()),
              "tombstone until " + tombstone.expiresAt());
          s.emit(StandardEvents.deployEvent(StandardEvents.DEPLOY_DELETED, site, id));
          s.emit(StandardEvents.siteChanged(site, ACTION_TOMBSTONE));
          return tombstone;
        });
  }

  /**
   * The rows of the site's deleted aliases (a deleted alias keeps its row, with its version and
   * when it was deleted, so its version keeps counting). Changes nothing. The reconciler tells by
   * them a projection the index deleted from one only the projection still records (a lost index).
   */
  public java.util.Map<AliasName, AliasRow> deletedAliases(SiteId site) {
    Objects.requireNonNull(site, "site");
    return store.inSite(
        "alias.read-deleted",
        site,
        RowSelection.of(List.of(), List.of()),
        s -> {
          java.util.Map<AliasName, AliasRow> deleted = new java.util.TreeMap<>();
          s.aliases()
              .forEach(
                  (name, row) -> {
                    if (row.target() == null) {
                      deleted.put(name, row);
                    }
                  });
          return deleted;
        });
  }

  /**
   * Records bytes the index has no row of (an abandoned upload, trash left without its tombstone)
   * as a deleted deploy: a tombstone expiring at {@code now + recoveryWindow}, so the repair that
   * trashes them leaves them restorable, as a deploy, within the window, and the tombstone purge
   * removes them after it. The caller moves the bytes to trash after this commits (V6). Never
   * overwrites: returns empty and changes nothing when a deploy or tombstone with this id exists.
   * Events: site.changed (no deploy.deleted: no host ever saw this deploy).
   *
   * @param sha the commit sha a marker records, or {@code null}
   * @param finalizedAt when a marker says finalize verified the bytes: the tombstone is of an
   *     ACTIVE deploy; {@code null} without a marker: of a PENDING one, which a restore gives back
   *     for the client to upload to and finalize again
   */
  public Optional<Tombstone> tombstoneOrphan(
      SiteId site,
      DeployId id,
      String sha,
      Instant finalizedAt,
      Duration recoveryWindow,
      Actor actor) {
    requireArgs(site, id, actor);
    if (sha != null) {
      DeployId.requireSha(sha);
    }
    requireWindow(recoveryWindow);
    return store.inSite(
        ACTION_TOMBSTONE_ORPHAN,
        site,
        RowSelection.of(List.of(id), List.of(id)),
        s -> {
          if (s.deploy(id) != null || s.tombstone(id) != null) {
            return Optional.empty();
          }
          DeployState state = finalizedAt == null ? DeployState.PENDING : DeployState.ACTIVE;
          Deploy orphan =
              new Deploy(
                  site,
                  id,
                  sha,
                  state,
                  id.createdAt(),
                  finalizedAt == null ? null : s.stored(finalizedAt),
                  null);
          Tombstone tombstone =
              new Tombstone(orphan, s.now(), s.stored(s.now().plus(recoveryWindow)));
          s.putTombstone(tombstone);
          s.audit(
              actor,
              ACTION_TOMBSTONE_ORPHAN,
              id.value(),
              null,
              "tombstone of a " + lower(state) + " deploy until " + tombstone.expiresAt());
          s.emit(StandardEvents.siteChanged(site, ACTION_TOMBSTONE_ORPHAN));
          return Optional.of(tombstone);
        });
  }

  /**
   * Turns a tombstone back into its deploy row (never writes an alias). The caller moves the bytes
   * back before calling this. Idempotent: a live deploy with no tombstone is returned unchanged.
   * Events: deploy.restored, site.changed.
   *
   * @throws dev.durabledeploy.spi.exception.TombstoneExpiredException if the recovery window has
   *     closed
   */
  public Deploy restore(SiteId site, DeployId id, Actor actor) {
    requireArgs(site, id, actor);
    return store.inSite(
        ACTION_RESTORE,
        site,
        RowSelection.of(List.of(id), List.of(id)),
        s -> {
          requireActiveSite(s, site, "a deploy restore");
          Tombstone tombstone = s.tombstone(id);
          if (tombstone == null) {
            Deploy live = existing(s, site, id);
            return live;
          }
          if (tombstone.isExpired(s.now())) {
            throw new TombstoneExpiredException(site, id, tombstone.expiresAt());
          }
          Deploy was = tombstone.deploy();
          // The restore time goes with the row: GC keeps the deploy for its grace from now on,
          // however old the deploy is (the restore's own site.changed runs GC seconds later).
          Deploy restored =
              new Deploy(
                  site,
                  id,
                  was.sha(),
                  was.state(),
                  was.createdAt(),
                  was.finalizedAt(),
                  was.releasedAt(),
                  s.now());
          s.removeTombstone(id);
          s.putDeploy(restored);
          s.audit(actor, ACTION_RESTORE, id.value(), "tombstone", lower(was.state()));
          s.emit(StandardEvents.deployEvent(StandardEvents.DEPLOY_RESTORED, site, id));
          s.emit(StandardEvents.siteChanged(site, ACTION_RESTORE));
          return restored;
        });
  }

  /**
   * Removes a tombstone for good; the caller deleted its bytes first (V6). Returns false and
   * changes nothing when there is none. Events: deploy.purged, site.changed.
   */
  public boolean purgeTombstone(SiteId site, DeployId id, Actor actor) {
    requireArgs(site, id, actor);
    return store.inSite(
        ACTION_PURGE,
        site,
        RowSelection.of(List.of(), List.of(id)),
        s -> {
          if (s.tombstone(id) == null) {
            return false;
          }
          s.removeTombstone(id);
          s.audit(actor, ACTION_PURGE, id.value(), "tombstone", null);
          s.emit(StandardEvents.deployEvent(StandardEvents.DEPLOY_PURGED, site, id));
          s.emit(StandardEvents.siteChanged(site, ACTION_PURGE));
          return true;
        });
  }

  /**
   * Removes every deploy, alias and tombstone of the site (the first step of a purge for good,
   * after its intent is recorded). A registry record stays, as {@link SiteState#PURGING}, until
   * {@link #forgetSite} once the bytes are gone, so the registry shows the purge and no deploy or
   * registration lands in between. Idempotent. Outbox events already appended stay and are
   * delivered. Events: site.deleted (no site.changed) when it removed anything.
   */
  public SiteDeletion deleteSite(SiteId site, Actor actor) {
    Objects.requireNonNull(site, "site");
    Objects.requireNonNull(actor, "actor");
    return store.inSite(
        ACTION_DELETE_SITE,
        site,
        RowSelection.WHOLE_SITE,
        s -> {
          Site record = s.site();
          boolean recordChanges = record != null && record.state() != SiteState.PURGING;
          if (!hasContent(s) && !recordChanges) {
            if (!s.aliases().isEmpty()) {
              // Only deleted aliases are left: their rows go too, so versions start again at 1
              // as after any site deletion. Nothing is audited or announced: nothing was live.
              s.removeAll();
              if (record != null) {
                s.putSite(record);
              }
            }
            return new SiteDeletion(0, 0, 0);
          }
          int liveAliases =
              (int) s.aliases().values().stream().filter(a -> a.target() != null).count();
          SiteDeletion deletion =
              new SiteDeletion(s.deployCount(), liveAliases, s.tombstoneCount());
          s.removeAll();
          if (record != null) {
            s.putSite(
                record.state() == SiteState.PURGING
                    ? record
                    : record.withState(SiteState.PURGING, s.now(), null));
          }
          s.audit(actor, ACTION_DELETE_SITE, site.value(), deletion.toString(), null);
          s.emit(StandardEvents.siteDeleted(site));
          return deletion;
        });
  }

  /**
   * Removes a {@link SiteState#PURGING} record: the last step of a purge for good, once the bytes
   * are gone. Changes nothing (and returns false) for a site in any other state or unregistered.
   * Neither audited nor announced: {@link #deleteSite} did both.
   */
  public boolean forgetSite(SiteId site) {
    Objects.requireNonNull(site, "site");
    return store.inSite(
        ACTION_DELETE_SITE,
        site,
        RECORD_ONLY,
        s -> {
          Site record = s.site();
          if (record == null || record.state() != SiteState.PURGING) {
            return false;
          }
          s.removeAll();
          return true;
        });
  }

  /**
   * Registers a site: an {@link SiteState#ACTIVE} record at version 1. Idempotent: a site already
   * registered with the same profile is returned unchanged. Events: site.registered.
   *
   * @throws SiteStateException when it is registered with another profile (update it instead), or
   *     is trashed or purging
   */
  public Site registerSite(SiteId site, SiteProfile profile, Actor actor) {
    Objects.requireNonNull(site, "site");
    Objects.requireNonNull(profile, "profile");
    Objects.requireNonNull(actor, "actor");
    return store.inSite(
        ACTION_REGISTER_SITE,
        site,
        RECORD_ONLY,
        s -> {
          Site record = s.site();
          if (record != null) {
            requireActiveSite(s, site, "a registration");
            if (record.profile().equals(profile)) {
              return record;
            }
            throw new SiteStateException(
                site,
                record.state(),
                "it is registered already, with another profile (version "
                    + record.version()
                    + "); update it instead");
          }
          return register(s, site, profile, actor);
        });
  }

  /**
   * Replaces an active site's profile. With {@code expectedVersion > 0} the update applies only if
   * the record is at that version (compare-and-set); 0 applies it whatever the version. A profile
   * equal to the current one changes nothing. Events: site.updated.
   *
   * @throws SiteNotFoundException when the site is not registered
   * @throws SiteStateException when it is trashed or purging, or the version does not match
   */
  public Site updateSite(SiteId site, SiteProfile profile, long expectedVersion, Actor actor) {
    Objects.requireNonNull(site, "site");
    Objects.requireNonNull(profile, "profile");
    Objects.requireNonNull(actor, "actor");
    if (expectedVersion < 0) {
      throw new InvalidInputException("expectedVersion", "must be 0 (any) or a record version");
    }
    return store.inSite(
        ACTION_UPDATE_SITE,
        site,
        RECORD_ONLY,
        s -> {
          Site record = requireRegistered(s, site);
          requireActiveSite(s, site, "an update");
          if (expectedVersion != 0 && record.version() != expectedVersion) {
            throw new SiteStateException(
                site,
                record.state(),
                "its record is at version "
                    + record.version()
                    + ", not the expected "
                    + expectedVersion
                    + "; read it again and retry");
          }
          if (record.profile().equals(profile)) {
            return record;
          }
          Site updated = record.withProfile(profile, s.now());
          s.putSite(updated);
          s.audit(
              actor,
              ACTION_UPDATE_SITE,
              site.value(),
              "v" + record.version(),
              "v" + updated.version());
          s.emit(StandardEvents.siteRecord(StandardEvents.SITE_UPDATED, updated));
          return updated;
        });
  }

  /**
   * What {@link #trashSite} did.
   *
   * @param site the record, {@link SiteState#TRASHED}; {@code null} when there was nothing to trash
   *     (an unregistered site without content)
   * @param trashed the deploys, live aliases and tombstones the trashed site keeps for a restore
   * @param abandoned the pending and finalizing deploys it removed, whose bytes the caller deletes
   */
  public record Trashed(Site site, SiteDeletion trashed, List<DeployId> abandoned) {
    public Trashed {
      abandoned = List.copyOf(abandoned);
    }
  }

  /**
   * Soft-deletes a site: its record becomes {@link SiteState#TRASHED} until {@code now +
   * recoveryWindow}, and every command on it but {@link #restoreSite}, a purge and the tombstone
   * purge is refused from then on. Its active deploys, aliases and tombstones stay as they are for
   * a restore; its pending and finalizing deploys are removed (an upload racing the trash reads its
   * deploy gone and withdraws its bytes, as after a purge), and returned for the caller to delete
   * their bytes. The caller moves the site's bytes to the site trash after this commits (V6). An
   * unregistered site with content is registered as trashed. Idempotent: a trashed site is returned
   * unchanged. Events: site.updated.
   *
   * <p>The caller holds the site's lock: the deploys are listed before the unit of work.
   *
   * @throws SiteStateException when the site is being purged
   */
  public Trashed trashSite(SiteId site, Duration recoveryWindow, Actor actor) {
    return trashSite(site, recoveryWindow, actor, false);
  }

  /**
   * {@link #trashSite(SiteId, Duration, Actor)}; with {@code bucketHasBytes}, a site without a
   * record or a row is trashed too (registered as trashed), for the bytes only the bucket has.
   */
  public Trashed trashSite(
      SiteId site, Duration recoveryWindow, Actor actor, boolean bucketHasBytes) {
    Objects.requireNonNull(site, "site");
    Objects.requireNonNull(actor, "actor");
    requireWindow(recoveryWindow);
    // The deploy rows a work can enumerate are the ones it names: listed first, re-read inside.
    // The caller holds the site lock, so no deploy is created in between.
    List<DeployId> listed = store.listDeploys(site).stream().map(Deploy::id).toList();
    return store.inSite(
        ACTION_TRASH_SITE,
        site,
        RowSelection.of(listed, List.of()),
        s -> {
          Site record = s.site();
          if (record != null && record.state() == SiteState.PURGING) {
            refuseInactive(site, record, "a deletion");
          }
          if (record == null && !hasContent(s) && !bucketHasBytes) {
            return new Trashed(null, new SiteDeletion(0, 0, 0), List.of());
          }
          List<DeployId> abandoned = new ArrayList<>();
          int kept = 0;
          for (DeployId id : listed) {
            Deploy d = s.deploy(id);
            if (d == null) {
              continue;
            }
            if (d.isActive()) {
              kept++;
            } else {
              abandoned.add(id);
            }
          }
          int liveAliases =
              (int) s.aliases().values().stream().filter(a -> a.target() != null).count();
          SiteDeletion trashed = new SiteDeletion(kept, liveAliases, s.tombstoneCount());
          if (record != null && record.state() == SiteState.TRASHED) {
            return new Trashed(record, trashed.restorableUntil(record.purgeAfter()), List.of());
          }
          for (DeployId id : abandoned) {
            s.removeDeploy(id);
          }
          if (record == null) {
            record = register(s, site, defaultProfile(site, actor), actor);
          }
          Site next =
              record.withState(SiteState.TRASHED, s.now(), s.stored(s.now().plus(recoveryWindow)));
          s.putSite(next);
          s.audit(
              actor,
              ACTION_TRASH_SITE,
              site.value(),
              "active",
              "trashed until " + next.purgeAfter() + " " + trashed);
          s.emit(StandardEvents.siteRecord(StandardEvents.SITE_UPDATED, next));
          return new Trashed(next, trashed.restorableUntil(next.purgeAfter()), abandoned);
        });
  }

  /**
   * Brings a trashed site back within its recovery window: {@link SiteState#ACTIVE} again, with the
   * deploys, aliases and tombstones it had. The caller moves the bytes back after this commits.
   * Idempotent: an active site is returned unchanged. Events: site.updated, then alias.changed for
   * every live alias (the trash deleted their projection).
   *
   * @throws SiteNotFoundException when the site is not registered (or was purged)
   * @throws SiteStateException when it is being purged, or its recovery window has closed
   */
  public Site restoreSite(SiteId site, Actor actor) {
    Objects.requireNonNull(site, "site");
    Objects.requireNonNull(actor, "actor");
    return store.inSite(
        ACTION_RESTORE_SITE,
        site,
        RECORD_ONLY,
        s -> {
          Site record = requireRegistered(s, site);
          switch (record.state()) {
            case ACTIVE -> {
              return record;
            }
            case PURGING ->
                throw new SiteStateException(
                    site, SiteState.PURGING, "it is being purged for good; it cannot be restored");
            case TRASHED -> {
              if (!s.now().isBefore(record.purgeAfter())) {
                throw new SiteStateException(
                    site,
                    SiteState.TRASHED,
                    "its recovery window closed at "
                        + record.purgeAfter()
                        + "; the tombstone purge removes it for good");
              }
            }
          }
          Site restored = record.withState(SiteState.ACTIVE, s.now(), null);
          s.putSite(restored);
          s.audit(actor, ACTION_RESTORE_SITE, site.value(), "trashed", "active");
          s.emit(StandardEvents.siteRecord(StandardEvents.SITE_UPDATED, restored));
          // The trash deleted the alias projection (it is derived from these rows): each live
          // alias is projected again, version-guarded, by alias-project.
          s.aliases()
              .forEach(
                  (name, row) -> {
                    if (row.target() != null) {
                      s.emit(
                          StandardEvents.aliasChanged(
                              site, name, row.target(), row.version(), null));
                    }
                  });
          return restored;
        });
  }

  /**
   * Refuses {@code what} with {@link SiteStateException} when the site is trashed or being purged,
   * as every command does inside its unit of work: for a saga whose first step moves bytes, so it
   * is refused before them.
   */
  public void requireActiveSite(SiteId site, String what) {
    Objects.requireNonNull(site, "site");
    Site record = store.findSite(site).orElse(null);
    if (record != null && !record.isActive()) {
      refuseInactive(site, record, what);
    }
  }

  private static Site requireRegistered(SiteRows s, SiteId site) {
    Site record = s.site();
    if (record == null) {
      throw new SiteNotFoundException(site, "register it with plane.sites().register");
    }
    return record;
  }

  /**
   * Refuses {@code what} on a site that is not active. An unregistered site passes: whether it may
   * be used unregistered is the caller's rule.
   */
  private static void requireActiveSite(SiteRows s, SiteId site, String what) {
    Site record = s.site();
    if (record == null || record.isActive()) {
      return;
    }
    refuseInactive(site, record, what);
  }

  private static void refuseInactive(SiteId site, Site record, String what) {
    if (record.state() == SiteState.TRASHED) {
      throw new SiteStateException(
          site,
          SiteState.TRASHED,
          what
              + " is refused: the site was deleted; restore it (restoreSite) before "
              + record.purgeAfter()
              + ", or purge it for good (purgeSiteNow)");
    }
    throw new SiteStateException(
        site,
        record.state(),
        what + " is refused: the site is being purged for good; retry once the purge finished");
  }

  private static SiteProfile defaultProfile(SiteId site, Actor actor) {
    return SiteProfile.of(site.value(), actor.value());
  }

  /** Registers {@code site} with the default profile (its first deploy, or an adoption). */
  private static Site registerDefault(SiteRows s, SiteId site, Actor actor) {
    return register(s, site, defaultProfile(site, actor), actor);
  }

  private static Site register(SiteRows s, SiteId site, SiteProfile profile, Actor actor) {
    Site record = new Site(site, profile, SiteState.ACTIVE, s.now(), s.now(), null, 1);
    s.putSite(record);
    s.audit(actor, ACTION_REGISTER_SITE, site.value(), null, "active");
    s.emit(StandardEvents.siteRecord(StandardEvents.SITE_REGISTERED, record));
    return record;
  }

  private static void requireWindow(Duration recoveryWindow) {
    if (recoveryWindow == null || recoveryWindow.isNegative()) {
      throw new InvalidInputException("recoveryWindow", "must be zero or positive");
    }
  }

  private static void requireArgs(SiteId site, DeployId id, Actor actor) {
    Objects.requireNonNull(site, "site");
    Objects.requireNonNull(id, "deployId");
    Objects.requireNonNull(actor, "actor");
  }
}
