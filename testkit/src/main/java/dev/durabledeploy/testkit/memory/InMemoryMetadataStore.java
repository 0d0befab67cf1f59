package dev.durabledeploy.testkit.memory;

import dev.durabledeploy.spi.Actor;
import dev.durabledeploy.spi.AliasDriftException;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.DeployAliasedException;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.DeployNotFoundException;
import dev.durabledeploy.spi.DeployStateException;
import dev.durabledeploy.spi.Inputs;
import dev.durabledeploy.spi.InvalidInputException;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.TombstoneExpiredException;
import dev.durabledeploy.spi.metadata.Alias;
import dev.durabledeploy.spi.metadata.AliasExpectation;
import dev.durabledeploy.spi.metadata.AuditEntry;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.spi.metadata.DeployState;
import dev.durabledeploy.spi.metadata.MetadataStore;
import dev.durabledeploy.spi.metadata.SiteDeletion;
import dev.durabledeploy.spi.metadata.Tombstone;
import dev.durabledeploy.spi.outbox.NewEvent;
import dev.durabledeploy.spi.outbox.StandardEvents;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.Function;

/**
 * The reference metadata store: every command runs under one monitor shared with the outbox, which
 * makes it one atom exactly as a SQL transaction or a Lua script would.
 */
final class InMemoryMetadataStore implements MetadataStore {

  /** An alias row; a deleted alias keeps its row with a null target so versions keep counting. */
  private record AliasRow(DeployId target, long version, Instant updatedAt) {}

  private static final class SiteState {
    final TreeMap<DeployId, Deploy> deploys = new TreeMap<>();
    final TreeMap<AliasName, AliasRow> aliases = new TreeMap<>();
    final TreeMap<DeployId, Tombstone> tombstones = new TreeMap<>();

    boolean hasContent() {
      return !deploys.isEmpty()
          || !tombstones.isEmpty()
          || aliases.values().stream().anyMatch(a -> a.target() != null);
    }
  }

  private final Object atom;
  private final Clock clock;
  private final InMemoryOutbox outbox;
  private final TreeMap<SiteId, SiteState> sites = new TreeMap<>();
  private final List<AuditEntry> audit = new ArrayList<>();

  InMemoryMetadataStore(Object atom, Clock clock, InMemoryOutbox outbox) {
    this.atom = atom;
    this.clock = clock;
    this.outbox = outbox;
  }

  /** The work of one command under the atom; returns its result and the events it appended. */
  private final class Tx {
    final Instant now = clock.instant();
    final List<NewEvent> events = new ArrayList<>();

    void audit(
        Actor actor, String action, SiteId site, String target, String before, String after) {
      audit.add(new AuditEntry(audit.size() + 1L, now, actor, action, site, target, before, after));
    }

    void emit(NewEvent event) {
      events.add(event);
    }
  }

  private <T> T command(Function<Tx, T> body) {
    boolean appended;
    T result;
    synchronized (atom) {
      Tx tx = new Tx();
      result = body.apply(tx);
      // Reached only when the body did not throw: all or nothing.
      for (NewEvent event : tx.events) {
        outbox.appendLocked(event, tx.now);
      }
      appended = !tx.events.isEmpty();
    }
    if (appended) {
      outbox.notifyAppended();
    }
    return result;
  }

  private SiteState site(SiteId site) {
    return sites.computeIfAbsent(site, s -> new SiteState());
  }

  private static Alias alias(SiteId site, AliasName name, AliasRow row) {
    return new Alias(site, name, row.target(), row.version(), row.updatedAt());
  }

  private static Alias liveAlias(SiteId site, AliasName name, AliasRow row) {
    return row == null || row.target() == null ? null : alias(site, name, row);
  }

  /**
   * Moves {@code name} to {@code target} (null: delete) and releases the previous target. A deleted
   * alias is version 0 to expectations but continues its version when re-created.
   */
  private AliasRow moveLocked(
      Tx tx, SiteId siteId, AliasName name, DeployId target, AliasExpectation expect) {
    SiteState s = site(siteId);
    AliasRow row = s.aliases.get(name);
    DeployId previous = row == null ? null : row.target();
    checkExpectation(siteId, name, row, expect);
    long version = (row == null ? 0 : row.version()) + 1;
    AliasRow next = new AliasRow(target, version, tx.now);
    s.aliases.put(name, next);
    if (previous != null && !previous.equals(target)) {
      Deploy released = s.deploys.get(previous);
      if (released != null) {
        s.deploys.put(previous, withReleasedAt(released, tx.now));
      }
    }
    tx.emit(StandardEvents.aliasChanged(siteId, name, target, version, previous));
    return next;
  }

  private static void checkExpectation(
      SiteId site, AliasName name, AliasRow row, AliasExpectation expect) {
    DeployId current = row == null ? null : row.target();
    long visibleVersion = current == null ? 0 : row.version();
    if (!expect.matches(visibleVersion, current)) {
      throw new AliasDriftException(site, name, liveAlias(site, name, row), expect);
    }
  }

  private static Deploy withReleasedAt(Deploy d, Instant at) {
    return new Deploy(d.site(), d.id(), d.sha(), d.state(), d.createdAt(), d.finalizedAt(), at);
  }

  private static String describe(DeployId id) {
    return id == null ? null : id.value();
  }

  @Override
  public Deploy createPending(SiteId site, DeployId id, String sha, Actor actor) {
    requireArgs(site, id, actor);
    if (sha != null) {
      DeployId.requireSha(sha);
    }
    return command(
        tx -> {
          SiteState s = site(site);
          if (s.tombstones.containsKey(id)) {
            throw new DeployStateException(
                site, id, s.tombstones.get(id).deploy().state(), "it was deleted");
          }
          Deploy existing = s.deploys.get(id);
          if (existing != null) {
            if (Objects.equals(existing.sha(), sha)) {
              return existing;
            }
            throw new DeployStateException(
                site, id, existing.state(), "it already exists with another sha");
          }
          Deploy created = new Deploy(site, id, sha, DeployState.PENDING, tx.now, null, null);
          s.deploys.put(id, created);
          tx.audit(actor, ACTION_CREATE, site, id.value(), null, "pending");
          tx.emit(StandardEvents.siteChanged(site, ACTION_CREATE));
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
        tx -> {
          SiteState s = site(site);
          Deploy deploy = s.deploys.get(id);
          if (deploy == null) {
            throw new DeployNotFoundException(site, id);
          }
          AliasRow row = s.aliases.get(alias);
          if (deploy.isActive()) {
            if (row != null && id.equals(row.target())) {
              return alias(site, alias, row);
            }
            throw new DeployStateException(
                site,
                id,
                DeployState.ACTIVE,
                "it is already finalized; move alias '" + alias + "' to it instead");
          }
          DeployId previous = row == null ? null : row.target();
          AliasRow moved = moveLocked(tx, site, alias, id, expect);
          s.deploys.put(
              id,
              new Deploy(
                  site, id, deploy.sha(), DeployState.ACTIVE, deploy.createdAt(), tx.now, null));
          tx.audit(actor, ACTION_ACTIVATE, site, id.value(), describe(previous), alias.value());
          tx.emit(StandardEvents.siteChanged(site, ACTION_ACTIVATE));
          return alias(site, alias, moved);
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
        tx -> {
          SiteState s = site(site);
          if (s.deploys.containsKey(id) || s.tombstones.containsKey(id)) {
            return Optional.empty();
          }
          Deploy adopted =
              new Deploy(site, id, sha, DeployState.ACTIVE, id.createdAt(), finalizedAt, null);
          s.deploys.put(id, adopted);
          tx.audit(actor, ACTION_ADOPT, site, id.value(), null, "active");
          tx.emit(StandardEvents.siteChanged(site, ACTION_ADOPT));
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
        tx -> {
          SiteState s = site(site);
          Deploy deploy = s.deploys.get(target);
          if (deploy == null) {
            throw new DeployNotFoundException(site, target);
          }
          if (!deploy.isActive()) {
            throw new DeployStateException(
                site, target, deploy.state(), "only finalized deploys can be aliased");
          }
          AliasRow row = s.aliases.get(alias);
          checkExpectation(site, alias, row, expect);
          if (row != null && target.equals(row.target())) {
            return alias(site, alias, row);
          }
          DeployId previous = row == null ? null : row.target();
          AliasRow moved = moveLocked(tx, site, alias, target, expect);
          tx.audit(
              actor,
              ACTION_ALIAS_MOVE,
              site,
              "alias:" + alias.value(),
              describe(previous),
              target.value());
          tx.emit(StandardEvents.siteChanged(site, ACTION_ALIAS_MOVE));
          return alias(site, alias, moved);
        });
  }

  @Override
  public boolean deleteAlias(SiteId site, AliasName alias, AliasExpectation expect, Actor actor) {
    Objects.requireNonNull(site, "site");
    Objects.requireNonNull(alias, "alias");
    Objects.requireNonNull(expect, "expect");
    Objects.requireNonNull(actor, "actor");
    return command(
        tx -> {
          AliasRow row = site(site).aliases.get(alias);
          if (row == null || row.target() == null) {
            return false;
          }
          DeployId previous = row.target();
          moveLocked(tx, site, alias, null, expect);
          tx.audit(
              actor, ACTION_ALIAS_DELETE, site, "alias:" + alias.value(), previous.value(), null);
          tx.emit(StandardEvents.siteChanged(site, ACTION_ALIAS_DELETE));
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
        tx -> {
          SiteState s = site(site);
          Tombstone existing = s.tombstones.get(id);
          if (existing != null) {
            return existing;
          }
          Deploy deploy = s.deploys.get(id);
          if (deploy == null) {
            throw new DeployNotFoundException(site, id);
          }
          List<AliasName> aliased = new ArrayList<>();
          s.aliases.forEach(
              (name, row) -> {
                if (id.equals(row.target())) {
                  aliased.add(name);
                }
              });
          if (!aliased.isEmpty()) {
            throw new DeployAliasedException(site, id, aliased);
          }
          s.deploys.remove(id);
          Tombstone tombstone = new Tombstone(deploy, tx.now, tx.now.plus(recoveryWindow));
          s.tombstones.put(id, tombstone);
          tx.audit(
              actor,
              ACTION_TOMBSTONE,
              site,
              id.value(),
              deploy.state().name().toLowerCase(java.util.Locale.ROOT),
              "tombstone until " + tombstone.expiresAt());
          tx.emit(StandardEvents.deployEvent(StandardEvents.DEPLOY_DELETED, site, id));
          tx.emit(StandardEvents.siteChanged(site, ACTION_TOMBSTONE));
          return tombstone;
        });
  }

  @Override
  public Deploy restore(SiteId site, DeployId id, Actor actor) {
    requireArgs(site, id, actor);
    return command(
        tx -> {
          SiteState s = site(site);
          Tombstone tombstone = s.tombstones.get(id);
          if (tombstone == null) {
            Deploy live = s.deploys.get(id);
            if (live == null) {
              throw new DeployNotFoundException(site, id);
            }
            return live;
          }
          if (tombstone.isExpired(tx.now)) {
            throw new TombstoneExpiredException(site, id, tombstone.expiresAt());
          }
          s.tombstones.remove(id);
          s.deploys.put(id, tombstone.deploy());
          tx.audit(
              actor,
              ACTION_RESTORE,
              site,
              id.value(),
              "tombstone",
              tombstone.deploy().state().name().toLowerCase(java.util.Locale.ROOT));
          tx.emit(StandardEvents.deployEvent(StandardEvents.DEPLOY_RESTORED, site, id));
          tx.emit(StandardEvents.siteChanged(site, ACTION_RESTORE));
          return tombstone.deploy();
        });
  }

  @Override
  public boolean purgeTombstone(SiteId site, DeployId id, Actor actor) {
    requireArgs(site, id, actor);
    return command(
        tx -> {
          Tombstone removed = site(site).tombstones.remove(id);
          if (removed == null) {
            return false;
          }
          tx.audit(actor, ACTION_PURGE, site, id.value(), "tombstone", null);
          tx.emit(StandardEvents.deployEvent(StandardEvents.DEPLOY_PURGED, site, id));
          tx.emit(StandardEvents.siteChanged(site, ACTION_PURGE));
          return true;
        });
  }

  @Override
  public SiteDeletion deleteSite(SiteId site, Actor actor) {
    Objects.requireNonNull(site, "site");
    Objects.requireNonNull(actor, "actor");
    return command(
        tx -> {
          SiteState s = sites.remove(site);
          if (s == null || !s.hasContent()) {
            return new SiteDeletion(0, 0, 0);
          }
          int liveAliases =
              (int) s.aliases.values().stream().filter(a -> a.target() != null).count();
          SiteDeletion deletion =
              new SiteDeletion(s.deploys.size(), liveAliases, s.tombstones.size());
          tx.audit(actor, ACTION_DELETE_SITE, site, site.value(), deletion.toString(), null);
          tx.emit(StandardEvents.siteDeleted(site));
          return deletion;
        });
  }

  // ---- queries -----------------------------------------------------------------------------

  private <T> T read(SiteId site, Function<SiteState, T> query, T empty) {
    Objects.requireNonNull(site, "site");
    synchronized (atom) {
      SiteState s = sites.get(site);
      return s == null ? empty : query.apply(s);
    }
  }

  @Override
  public Optional<Deploy> findDeploy(SiteId site, DeployId id) {
    return read(site, s -> Optional.ofNullable(s.deploys.get(id)), Optional.empty());
  }

  @Override
  public List<Deploy> listDeploys(SiteId site) {
    return read(site, s -> List.copyOf(s.deploys.values()), List.of());
  }

  @Override
  public Optional<Alias> findAlias(SiteId site, AliasName alias) {
    return read(
        site,
        s -> Optional.ofNullable(liveAlias(site, alias, s.aliases.get(alias))),
        Optional.empty());
  }

  @Override
  public List<Alias> listAliases(SiteId site) {
    return read(
        site,
        s ->
            s.aliases.entrySet().stream()
                .map(e -> liveAlias(site, e.getKey(), e.getValue()))
                .filter(Objects::nonNull)
                .toList(),
        List.of());
  }

  @Override
  public Optional<Tombstone> findTombstone(SiteId site, DeployId id) {
    return read(site, s -> Optional.ofNullable(s.tombstones.get(id)), Optional.empty());
  }

  @Override
  public List<Tombstone> listTombstones(SiteId site) {
    return read(site, s -> List.copyOf(s.tombstones.values()), List.of());
  }

  @Override
  public List<Tombstone> listExpiredTombstones(Instant cutoff, int limit) {
    Objects.requireNonNull(cutoff, "cutoff");
    Inputs.requireRange("limit", limit, 1, 100_000);
    synchronized (atom) {
      return sites.values().stream()
          .flatMap(s -> s.tombstones.values().stream())
          .filter(t -> !t.expiresAt().isAfter(cutoff))
          .sorted(
              Comparator.comparing(Tombstone::expiresAt)
                  .thenComparing(Tombstone::site)
                  .thenComparing(Tombstone::deployId))
          .limit(limit)
          .toList();
    }
  }

  @Override
  public List<SiteId> listSites(SiteId after, int limit) {
    Inputs.requireRange("limit", limit, 1, 100_000);
    synchronized (atom) {
      Map<SiteId, SiteState> tail = after == null ? sites : sites.tailMap(after, false);
      return tail.entrySet().stream()
          .filter(e -> e.getValue().hasContent())
          .map(Map.Entry::getKey)
          .limit(limit)
          .toList();
    }
  }

  @Override
  public List<AuditEntry> auditLog(SiteId site, int limit) {
    Objects.requireNonNull(site, "site");
    Inputs.requireRange("limit", limit, 1, 100_000);
    synchronized (atom) {
      List<AuditEntry> out = new ArrayList<>();
      for (int i = audit.size() - 1; i >= 0 && out.size() < limit; i--) {
        if (audit.get(i).site().equals(site)) {
          out.add(audit.get(i));
        }
      }
      return out;
    }
  }

  private static void requireArgs(SiteId site, DeployId id, Actor actor) {
    Objects.requireNonNull(site, "site");
    Objects.requireNonNull(id, "deployId");
    Objects.requireNonNull(actor, "actor");
  }
}
