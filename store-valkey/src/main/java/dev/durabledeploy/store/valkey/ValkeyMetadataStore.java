package dev.durabledeploy.store.valkey;

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
import dev.durabledeploy.spi.TransientStoreException;
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
import dev.durabledeploy.store.valkey.Records.AliasRow;
import io.lettuce.core.Limit;
import io.lettuce.core.Range;
import io.lettuce.core.ScriptOutputType;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * The metadata store on Valkey. Each command reads a consistent snapshot of its site (one script),
 * decides in Java exactly as the reference store does, and commits with one script ({@code
 * site-commit.lua}) that applies the writes, the audit entry and the outbox events only if the
 * site's revision is still the one it read, and bumps it. The check and the write are thus one atom
 * per site (optimistic, like a serialisable transaction): a command that lost a race with another
 * command on the same site reads again and decides again, so an alias CAS, the "refused while
 * aliased" check of a tombstone and the events it appends never act on stale state. Commands that
 * find nothing to do write nothing (V9).
 *
 * <p>A site's rows are hashes under its hash tag; {@code {meta}} indexes list sites with content
 * and tombstones by expiry for the sweeps. Key layout: {@code Keys}.
 */
final class ValkeyMetadataStore implements MetadataStore {

  /** Re-reads after a lost race before giving up; each waits a little longer (jittered). */
  private static final int MAX_ATTEMPTS = 100;

  private final Valkey valkey;
  private final Keys keys;
  private final Clock clock;

  ValkeyMetadataStore(Valkey valkey, Keys keys, Clock clock) {
    this.valkey = valkey;
    this.keys = keys;
    this.clock = clock;
  }

  /**
   * One command's view of its site and the writes it decides on. It holds every alias, the deploys
   * they target and the rows the command asked for (or the whole site), plus how many deploys and
   * tombstones the site has.
   */
  private final class Tx {
    final SiteId site;
    final String revision;
    final Instant now = Micros.now(clock);
    final TreeMap<DeployId, Deploy> deploys = new TreeMap<>();
    final TreeMap<AliasName, AliasRow> aliases = new TreeMap<>();
    final TreeMap<DeployId, Tombstone> tombstones = new TreeMap<>();
    final List<String> ops = new ArrayList<>();
    long deployCount;
    long tombstoneCount;

    Tx(SiteId site, List<Object> snapshot) {
      this.site = site;
      this.revision = (String) snapshot.get(0);
      pairs(snapshot.get(1))
          .forEach((k, v) -> deploys.put(DeployId.of(k), Records.deploy(site, DeployId.of(k), v)));
      pairs(snapshot.get(2)).forEach((k, v) -> aliases.put(AliasName.of(k), Records.alias(v)));
      pairs(snapshot.get(3))
          .forEach(
              (k, v) -> tombstones.put(DeployId.of(k), Records.tombstone(site, DeployId.of(k), v)));
      this.deployCount = (Long) snapshot.get(4);
      this.tombstoneCount = (Long) snapshot.get(5);
    }

    void putDeploy(Deploy d) {
      if (deploys.put(d.id(), d) == null) {
        deployCount++;
      }
      ops.addAll(List.of("HSET", "deploys", d.id().value(), Records.deploy(d)));
    }

    void removeDeploy(DeployId id) {
      if (deploys.remove(id) != null) {
        deployCount--;
      }
      ops.addAll(List.of("HDEL", "deploys", id.value()));
    }

    void putAlias(AliasName name, AliasRow row) {
      aliases.put(name, row);
      ops.addAll(List.of("HSET", "aliases", name.value(), Records.alias(row)));
    }

    void putTombstone(Tombstone t) {
      if (tombstones.put(t.deployId(), t) == null) {
        tombstoneCount++;
      }
      ops.addAll(List.of("HSET", "tombstones", t.deployId().value(), Records.tombstone(t)));
      ops.addAll(List.of("EXP+", expiryMember(site, t.deployId()), Micros.of(t.expiresAt())));
    }

    void removeTombstone(DeployId id) {
      if (tombstones.remove(id) != null) {
        tombstoneCount--;
      }
      ops.addAll(List.of("HDEL", "tombstones", id.value()));
      ops.addAll(List.of("EXP-", expiryMember(site, id)));
    }

    void audit(Actor actor, String action, String target, String before, String after) {
      ops.addAll(List.of("AUDIT", Records.audit(now, actor, action, target, before, after)));
    }

    void emit(NewEvent event) {
      ops.add("EVENT");
      ops.add(event.type());
      ops.add(Integer.toString(event.payload().size()));
      event
          .payload()
          .forEach(
              (k, v) -> {
                ops.add(k);
                ops.add(v);
              });
    }

    boolean hasContent() {
      return deployCount > 0
          || tombstoneCount > 0
          || aliases.values().stream().anyMatch(a -> a.target() != null);
    }
  }

  private static String expiryMember(SiteId site, DeployId id) {
    // A space sorts before every site character, so ties order by site, then deploy id.
    return site.value() + " " + id.value();
  }

  private static Map<String, String> pairs(Object flat) {
    @SuppressWarnings("unchecked")
    List<Object> list = (List<Object>) flat;
    Map<String, String> out = new TreeMap<>();
    for (int i = 0; i + 1 < list.size(); i += 2) {
      out.put((String) list.get(i), (String) list.get(i + 1));
    }
    return out;
  }

  /** What a command reads: these deploys and tombstones (and every alias), or the whole site. */
  private record Reads(List<DeployId> deploys, List<DeployId> tombstones, boolean wholeSite) {
    static final Reads WHOLE_SITE = new Reads(List.of(), List.of(), true);

    static Reads of(List<DeployId> deploys, List<DeployId> tombstones) {
      return new Reads(deploys, tombstones, false);
    }

    List<String> args() {
      if (wholeSite) {
        return List.of("all");
      }
      List<String> args = new ArrayList<>();
      args.add("some");
      args.add(Integer.toString(deploys.size()));
      deploys.forEach(id -> args.add(id.value()));
      tombstones.forEach(id -> args.add(id.value()));
      return args;
    }
  }

  private Tx read(SiteId site, Reads reads) {
    List<Object> snapshot =
        valkey.script(
            "site-read",
            ScriptOutputType.MULTI,
            List.of(
                keys.site(site, "rev"),
                keys.site(site, "deploys"),
                keys.site(site, "aliases"),
                keys.site(site, "tombstones")),
            reads.args());
    return new Tx(site, snapshot);
  }

  private <T> T command(SiteId site, Reads reads, Function<Tx, T> body) {
    for (int attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      Tx tx = read(site, reads);
      T result = body.apply(tx);
      if (tx.ops.isEmpty()) {
        return result;
      }
      List<String> args = new ArrayList<>(tx.ops.size() + 5);
      args.add(keys.namespace());
      args.add(site.value());
      args.add(tx.revision);
      args.add(Micros.of(tx.now));
      args.addAll(tx.ops);
      args.add(tx.hasContent() ? "SITE+" : "SITE-");
      Long committed = valkey.script("site-commit", ScriptOutputType.INTEGER, List.of(), args);
      if (committed >= 0) {
        return result;
      }
      // Another command on this site committed between our read and our commit: decide again.
      LockSupport.parkNanos(
          ThreadLocalRandom.current().nextLong(1, 50_000L * Math.min(attempt, 20)));
    }
    throw new TransientStoreException(
        "a metadata command on site "
            + site
            + " lost the race with other commands on the same site "
            + MAX_ATTEMPTS
            + " times in a row; retry it, and check for a host writing to this site in a loop");
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
  private static AliasRow move(Tx tx, AliasName name, DeployId target, AliasExpectation expect) {
    AliasRow row = tx.aliases.get(name);
    DeployId previous = row == null ? null : row.target();
    checkExpectation(tx.site, name, row, expect);
    long version = (row == null ? 0 : row.version()) + 1;
    AliasRow next = new AliasRow(target, version, tx.now);
    tx.putAlias(name, next);
    if (previous != null && !previous.equals(target)) {
      Deploy released = tx.deploys.get(previous);
      if (released != null) {
        tx.putDeploy(withReleasedAt(released, tx.now));
      }
    }
    tx.emit(StandardEvents.aliasChanged(tx.site, name, target, version, previous));
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
        site,
        Reads.of(List.of(id), List.of(id)),
        tx -> {
          Tombstone tombstone = tx.tombstones.get(id);
          if (tombstone != null) {
            throw new DeployStateException(site, id, tombstone.deploy().state(), "it was deleted");
          }
          Deploy existing = tx.deploys.get(id);
          if (existing != null) {
            if (Objects.equals(existing.sha(), sha)) {
              return existing;
            }
            throw new DeployStateException(
                site, id, existing.state(), "it already exists with another sha");
          }
          Deploy created = new Deploy(site, id, sha, DeployState.PENDING, tx.now, null, null);
          tx.putDeploy(created);
          tx.audit(actor, ACTION_CREATE, id.value(), null, "pending");
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
        site,
        Reads.of(List.of(id), List.of()),
        tx -> {
          Deploy deploy = tx.deploys.get(id);
          if (deploy == null) {
            throw new DeployNotFoundException(site, id);
          }
          AliasRow row = tx.aliases.get(alias);
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
          AliasRow moved = move(tx, alias, id, expect);
          tx.putDeploy(
              new Deploy(
                  site, id, deploy.sha(), DeployState.ACTIVE, deploy.createdAt(), tx.now, null));
          tx.audit(actor, ACTION_ACTIVATE, id.value(), describe(previous), alias.value());
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
        site,
        Reads.of(List.of(id), List.of(id)),
        tx -> {
          if (tx.deploys.containsKey(id) || tx.tombstones.containsKey(id)) {
            return Optional.empty();
          }
          Deploy adopted =
              new Deploy(
                  site,
                  id,
                  sha,
                  DeployState.ACTIVE,
                  id.createdAt(),
                  Micros.truncate(finalizedAt),
                  null);
          tx.putDeploy(adopted);
          tx.audit(actor, ACTION_ADOPT, id.value(), null, "active");
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
        site,
        Reads.of(List.of(target), List.of()),
        tx -> {
          Deploy deploy = tx.deploys.get(target);
          if (deploy == null) {
            throw new DeployNotFoundException(site, target);
          }
          if (!deploy.isActive()) {
            throw new DeployStateException(
                site, target, deploy.state(), "only finalized deploys can be aliased");
          }
          AliasRow row = tx.aliases.get(alias);
          checkExpectation(site, alias, row, expect);
          if (row != null && target.equals(row.target())) {
            return alias(site, alias, row);
          }
          DeployId previous = row == null ? null : row.target();
          AliasRow moved = move(tx, alias, target, expect);
          tx.audit(
              actor,
              ACTION_ALIAS_MOVE,
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
        site,
        Reads.of(List.of(), List.of()),
        tx -> {
          AliasRow row = tx.aliases.get(alias);
          if (row == null || row.target() == null) {
            return false;
          }
          DeployId previous = row.target();
          move(tx, alias, null, expect);
          tx.audit(actor, ACTION_ALIAS_DELETE, "alias:" + alias.value(), previous.value(), null);
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
        site,
        Reads.of(List.of(id), List.of(id)),
        tx -> {
          Tombstone existing = tx.tombstones.get(id);
          if (existing != null) {
            return existing;
          }
          Deploy deploy = tx.deploys.get(id);
          if (deploy == null) {
            throw new DeployNotFoundException(site, id);
          }
          List<AliasName> aliased = new ArrayList<>();
          tx.aliases.forEach(
              (name, row) -> {
                if (id.equals(row.target())) {
                  aliased.add(name);
                }
              });
          if (!aliased.isEmpty()) {
            throw new DeployAliasedException(site, id, aliased);
          }
          tx.removeDeploy(id);
          Tombstone tombstone =
              new Tombstone(deploy, tx.now, Micros.truncate(tx.now.plus(recoveryWindow)));
          tx.putTombstone(tombstone);
          tx.audit(
              actor,
              ACTION_TOMBSTONE,
              id.value(),
              lower(deploy.state()),
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
        site,
        Reads.of(List.of(id), List.of(id)),
        tx -> {
          Tombstone tombstone = tx.tombstones.get(id);
          if (tombstone == null) {
            Deploy live = tx.deploys.get(id);
            if (live == null) {
              throw new DeployNotFoundException(site, id);
            }
            return live;
          }
          if (tombstone.isExpired(tx.now)) {
            throw new TombstoneExpiredException(site, id, tombstone.expiresAt());
          }
          tx.removeTombstone(id);
          tx.putDeploy(tombstone.deploy());
          tx.audit(
              actor, ACTION_RESTORE, id.value(), "tombstone", lower(tombstone.deploy().state()));
          tx.emit(StandardEvents.deployEvent(StandardEvents.DEPLOY_RESTORED, site, id));
          tx.emit(StandardEvents.siteChanged(site, ACTION_RESTORE));
          return tombstone.deploy();
        });
  }

  @Override
  public boolean purgeTombstone(SiteId site, DeployId id, Actor actor) {
    requireArgs(site, id, actor);
    return command(
        site,
        Reads.of(List.of(), List.of(id)),
        tx -> {
          if (!tx.tombstones.containsKey(id)) {
            return false;
          }
          tx.removeTombstone(id);
          tx.audit(actor, ACTION_PURGE, id.value(), "tombstone", null);
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
        site,
        Reads.WHOLE_SITE,
        tx -> {
          if (!tx.hasContent()) {
            return new SiteDeletion(0, 0, 0);
          }
          int liveAliases =
              (int) tx.aliases.values().stream().filter(a -> a.target() != null).count();
          SiteDeletion deletion =
              new SiteDeletion(tx.deploys.size(), liveAliases, tx.tombstones.size());
          for (DeployId id : List.copyOf(tx.tombstones.keySet())) {
            tx.removeTombstone(id);
          }
          tx.deploys.clear();
          tx.deployCount = 0;
          tx.aliases.clear();
          tx.ops.addAll(List.of("DEL", "deploys", "DEL", "aliases", "DEL", "tombstones"));
          tx.audit(actor, ACTION_DELETE_SITE, site.value(), deletion.toString(), null);
          tx.emit(StandardEvents.siteDeleted(site));
          return deletion;
        });
  }

  // ---- queries -----------------------------------------------------------------------------

  private <T> T query(String what, SiteId site, Supplier<T> body) {
    Objects.requireNonNull(site, "site");
    return valkey.call(what + " of site " + site, body);
  }

  @Override
  public Optional<Deploy> findDeploy(SiteId site, DeployId id) {
    Objects.requireNonNull(id, "deployId");
    String value =
        query(
            "reading a deploy",
            site,
            () -> valkey.commands().hget(keys.site(site, "deploys"), id.value()));
    return Optional.ofNullable(value).map(v -> Records.deploy(site, id, v));
  }

  @Override
  public List<Deploy> listDeploys(SiteId site) {
    Map<String, String> all =
        query("listing deploys", site, () -> valkey.commands().hgetall(keys.site(site, "deploys")));
    TreeMap<DeployId, Deploy> sorted = new TreeMap<>();
    all.forEach((k, v) -> sorted.put(DeployId.of(k), Records.deploy(site, DeployId.of(k), v)));
    return List.copyOf(sorted.values());
  }

  @Override
  public Optional<Alias> findAlias(SiteId site, AliasName alias) {
    Objects.requireNonNull(alias, "alias");
    String value =
        query(
            "reading an alias",
            site,
            () -> valkey.commands().hget(keys.site(site, "aliases"), alias.value()));
    return Optional.ofNullable(value).map(v -> liveAlias(site, alias, Records.alias(v)));
  }

  @Override
  public List<Alias> listAliases(SiteId site) {
    Map<String, String> all =
        query("listing aliases", site, () -> valkey.commands().hgetall(keys.site(site, "aliases")));
    TreeMap<AliasName, Alias> sorted = new TreeMap<>();
    all.forEach(
        (k, v) -> {
          Alias live = liveAlias(site, AliasName.of(k), Records.alias(v));
          if (live != null) {
            sorted.put(live.name(), live);
          }
        });
    return List.copyOf(sorted.values());
  }

  @Override
  public Optional<Tombstone> findTombstone(SiteId site, DeployId id) {
    Objects.requireNonNull(id, "deployId");
    String value =
        query(
            "reading a tombstone",
            site,
            () -> valkey.commands().hget(keys.site(site, "tombstones"), id.value()));
    return Optional.ofNullable(value).map(v -> Records.tombstone(site, id, v));
  }

  @Override
  public List<Tombstone> listTombstones(SiteId site) {
    Map<String, String> all =
        query(
            "listing tombstones",
            site,
            () -> valkey.commands().hgetall(keys.site(site, "tombstones")));
    TreeMap<DeployId, Tombstone> sorted = new TreeMap<>();
    all.forEach((k, v) -> sorted.put(DeployId.of(k), Records.tombstone(site, DeployId.of(k), v)));
    return List.copyOf(sorted.values());
  }

  @Override
  public List<Tombstone> listExpiredTombstones(Instant cutoff, int limit) {
    Objects.requireNonNull(cutoff, "cutoff");
    Inputs.requireRange("limit", limit, 1, 100_000);
    List<String> members =
        valkey.call(
            "listing expired tombstones",
            () ->
                valkey
                    .commands()
                    .zrangebyscore(
                        keys.meta("tombstone-expiry"),
                        Range.create(
                            Double.NEGATIVE_INFINITY, (double) Long.parseLong(Micros.of(cutoff))),
                        Limit.create(0, limit)));
    List<Tombstone> out = new ArrayList<>(members.size());
    for (String member : members) {
      int space = member.indexOf(' ');
      SiteId site = SiteId.of(member.substring(0, space));
      findTombstone(site, DeployId.of(member.substring(space + 1))).ifPresent(out::add);
    }
    return out;
  }

  @Override
  public List<SiteId> listSites(SiteId after, int limit) {
    Inputs.requireRange("limit", limit, 1, 100_000);
    Range<String> range =
        Range.from(
            after == null ? Range.Boundary.unbounded() : Range.Boundary.excluding(after.value()),
            Range.Boundary.unbounded());
    List<String> sites =
        valkey.call(
            "listing sites",
            () -> valkey.commands().zrangebylex(keys.meta("sites"), range, Limit.create(0, limit)));
    return sites.stream().map(SiteId::of).toList();
  }

  @Override
  public List<AuditEntry> auditLog(SiteId site, int limit) {
    Inputs.requireRange("limit", limit, 1, 100_000);
    List<String> entries =
        query(
            "reading the audit log",
            site,
            () -> valkey.commands().lrange(keys.site(site, "audit"), 0, limit - 1L));
    return entries.stream().map(e -> Records.audit(site, e)).toList();
  }

  private static void requireArgs(SiteId site, DeployId id, Actor actor) {
    Objects.requireNonNull(site, "site");
    Objects.requireNonNull(id, "deployId");
    Objects.requireNonNull(actor, "actor");
  }
}
