package dev.durabledeploy.spi.metadata;

import dev.durabledeploy.spi.Actor;
import dev.durabledeploy.spi.AliasDriftException;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.DeployAliasedException;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.DeployNotFoundException;
import dev.durabledeploy.spi.DeployStateException;
import dev.durabledeploy.spi.InvalidInputException;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.TombstoneExpiredException;
import dev.durabledeploy.spi.outbox.NewEvent;
import dev.durabledeploy.spi.outbox.StandardEvents;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Function;

/**
 * The decisions of every {@link MetadataStore} command, written once for stores that keep a site as
 * rows they can read and write in one atom — the in-memory reference store (a monitor) and Valkey
 * (a snapshot read plus a conditional Lua commit). A subclass supplies {@link #command}, which runs
 * a decision against one site's rows inside its atom, and the queries. SQL stores decide in SQL and
 * do not use this.
 */
public abstract class SiteRowsMetadataStore implements MetadataStore {

  /**
   * An alias as stored: a deleted alias keeps its row with a null {@code target}, so its version
   * keeps counting when it is created again.
   */
  public record AliasRow(DeployId target, long version, Instant updatedAt) {

    public AliasRow {
      Objects.requireNonNull(updatedAt, "updatedAt");
    }

    /** The alias, or null when deleted. */
    public Alias toAlias(SiteId site, AliasName name) {
      return target == null ? null : new Alias(site, name, target, version, updatedAt);
    }
  }

  /**
   * One site's rows as one command sees them, and where its writes go. Used only inside {@link
   * #command}'s atom. Lookups answer null for rows that do not exist.
   */
  protected interface SiteRows {

    /** The command's time (the store's clock, at the store's precision). */
    Instant now();

    /** {@code at} as the store keeps it (e.g. truncated to microseconds). */
    Instant stored(Instant at);

    /** A live deploy: one the command asked for in {@link Rows}, or one an alias targets. */
    Deploy deploy(DeployId id);

    /** A tombstone the command asked for in {@link Rows}. */
    Tombstone tombstone(DeployId id);

    /** Every alias row of the site, deleted ones included. */
    Map<AliasName, AliasRow> aliases();

    /** How many live deploys and tombstones the site has (all rows, when read whole). */
    int deployCount();

    int tombstoneCount();

    void putDeploy(Deploy deploy);

    void removeDeploy(DeployId id);

    void putAlias(AliasName name, AliasRow row);

    void putTombstone(Tombstone tombstone);

    void removeTombstone(DeployId id);

    /** Removes every deploy, alias row and tombstone (alias versions start again at 1). */
    void removeAll();

    void audit(Actor actor, String action, String target, String before, String after);

    void emit(NewEvent event);
  }

  /**
   * The rows a command decides on: these deploys and tombstones (every alias and the deploys they
   * target always come along), or the whole site. A store that holds everything may ignore it.
   */
  protected record Rows(List<DeployId> deploys, List<DeployId> tombstones, boolean wholeSite) {

    /** Every deploy, alias and tombstone of the site (deleteSite). */
    public static final Rows WHOLE_SITE = new Rows(List.of(), List.of(), true);

    public Rows {
      deploys = List.copyOf(deploys);
      tombstones = List.copyOf(tombstones);
    }

    static Rows of(List<DeployId> deploys, List<DeployId> tombstones) {
      return new Rows(deploys, tombstones, false);
    }
  }

  /**
   * Runs {@code decision} against {@code site}'s rows in one atom: its writes, audit entries and
   * events all take effect if it returns, none if it throws. A store may run it more than once
   * (optimistic retry); it has no effects outside {@link SiteRows}.
   *
   * @param action the command's audit action (e.g. {@value #ACTION_ACTIVATE}), for messages
   */
  protected abstract <T> T command(
      String action, SiteId site, Rows rows, Function<SiteRows, T> decision);

  /** Whether the site has a deploy, a live alias or a tombstone (listed by listSites). */
  protected static boolean hasContent(SiteRows s) {
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
    s.emit(StandardEvents.aliasChanged(site, name, target, version, previous));
    return next;
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

  @Override
  public Deploy createPending(SiteId site, DeployId id, String sha, Actor actor) {
    requireArgs(site, id, actor);
    if (sha != null) {
      DeployId.requireSha(sha);
    }
    return command(
        ACTION_CREATE,
        site,
        Rows.of(List.of(id), List.of(id)),
        s -> {
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
          Deploy created = new Deploy(site, id, sha, DeployState.PENDING, s.now(), null, null);
          s.putDeploy(created);
          s.audit(actor, ACTION_CREATE, id.value(), null, "pending");
          s.emit(StandardEvents.siteChanged(site, ACTION_CREATE));
          return created;
        });
  }

  @Override
  public Alias activate(
      SiteId site, DeployId id, AliasName alias, AliasExpectation expect, Actor actor) {
    requireArgs(site, id, actor);
    Objects.requireNonNull(alias, "alias");
    Objects.requireNonNull(expect, "expect");
    return command(
        ACTION_ACTIVATE,
        site,
        Rows.of(List.of(id), List.of()),
        s -> {
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

  @Override
  public boolean supportsFinalizing() {
    return true;
  }

  @Override
  public Deploy beginFinalize(SiteId site, DeployId id, Actor actor) {
    return reseal(site, id, actor, DeployState.PENDING, DeployState.FINALIZING);
  }

  @Override
  public Deploy abortFinalize(SiteId site, DeployId id, Actor actor) {
    return reseal(site, id, actor, DeployState.FINALIZING, DeployState.PENDING);
  }

  /** Moves a deploy {@code from -> to} (PENDING and FINALIZING only); {@code to} is a no-op. */
  private Deploy reseal(SiteId site, DeployId id, Actor actor, DeployState from, DeployState to) {
    requireArgs(site, id, actor);
    String action = to == DeployState.FINALIZING ? ACTION_BEGIN_FINALIZE : ACTION_ABORT_FINALIZE;
    return command(
        action,
        site,
        Rows.of(List.of(id), List.of()),
        s -> {
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

  @Override
  public Optional<Deploy> adopt(
      SiteId site, DeployId id, String sha, Instant finalizedAt, Actor actor) {
    requireArgs(site, id, actor);
    Objects.requireNonNull(finalizedAt, "finalizedAt");
    if (sha != null) {
      DeployId.requireSha(sha);
    }
    return command(
        ACTION_ADOPT,
        site,
        Rows.of(List.of(id), List.of(id)),
        s -> {
          if (s.deploy(id) != null || s.tombstone(id) != null) {
            return Optional.empty();
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

  @Override
  public Alias moveAlias(
      SiteId site, AliasName alias, DeployId target, AliasExpectation expect, Actor actor) {
    requireArgs(site, target, actor);
    Objects.requireNonNull(alias, "alias");
    Objects.requireNonNull(expect, "expect");
    return command(
        ACTION_ALIAS_MOVE,
        site,
        Rows.of(List.of(target), List.of()),
        s -> {
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

  @Override
  public boolean deleteAlias(SiteId site, AliasName alias, AliasExpectation expect, Actor actor) {
    Objects.requireNonNull(site, "site");
    Objects.requireNonNull(alias, "alias");
    Objects.requireNonNull(expect, "expect");
    Objects.requireNonNull(actor, "actor");
    return command(
        ACTION_ALIAS_DELETE,
        site,
        Rows.of(List.of(), List.of()),
        s -> {
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

  @Override
  public Tombstone tombstone(SiteId site, DeployId id, Duration recoveryWindow, Actor actor) {
    requireArgs(site, id, actor);
    if (recoveryWindow == null || recoveryWindow.isNegative()) {
      throw new InvalidInputException("recoveryWindow", "must be zero or positive");
    }
    return command(
        ACTION_TOMBSTONE,
        site,
        Rows.of(List.of(id), List.of(id)),
        s -> {
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

  @Override
  public Deploy restore(SiteId site, DeployId id, Actor actor) {
    requireArgs(site, id, actor);
    return command(
        ACTION_RESTORE,
        site,
        Rows.of(List.of(id), List.of(id)),
        s -> {
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

  @Override
  public boolean purgeTombstone(SiteId site, DeployId id, Actor actor) {
    requireArgs(site, id, actor);
    return command(
        ACTION_PURGE,
        site,
        Rows.of(List.of(), List.of(id)),
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

  @Override
  public SiteDeletion deleteSite(SiteId site, Actor actor) {
    Objects.requireNonNull(site, "site");
    Objects.requireNonNull(actor, "actor");
    return command(
        ACTION_DELETE_SITE,
        site,
        Rows.WHOLE_SITE,
        s -> {
          if (!hasContent(s)) {
            if (!s.aliases().isEmpty()) {
              // Only deleted aliases are left: their rows go too, so versions start again at 1
              // as after any site deletion. Nothing is audited or announced: nothing was live.
              s.removeAll();
            }
            return new SiteDeletion(0, 0, 0);
          }
          int liveAliases =
              (int) s.aliases().values().stream().filter(a -> a.target() != null).count();
          SiteDeletion deletion =
              new SiteDeletion(s.deployCount(), liveAliases, s.tombstoneCount());
          s.removeAll();
          s.audit(actor, ACTION_DELETE_SITE, site.value(), deletion.toString(), null);
          s.emit(StandardEvents.siteDeleted(site));
          return deletion;
        });
  }

  private static void requireArgs(SiteId site, DeployId id, Actor actor) {
    Objects.requireNonNull(site, "site");
    Objects.requireNonNull(id, "deployId");
    Objects.requireNonNull(actor, "actor");
  }
}
