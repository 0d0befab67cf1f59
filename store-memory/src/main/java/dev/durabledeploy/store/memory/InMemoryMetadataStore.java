package dev.durabledeploy.store.memory;

import dev.durabledeploy.spi.Actor;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.Inputs;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.metadata.Alias;
import dev.durabledeploy.spi.metadata.AliasRow;
import dev.durabledeploy.spi.metadata.AuditEntry;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.spi.metadata.MetadataStore;
import dev.durabledeploy.spi.metadata.RowSelection;
import dev.durabledeploy.spi.metadata.Site;
import dev.durabledeploy.spi.metadata.SiteRows;
import dev.durabledeploy.spi.metadata.Tombstone;
import dev.durabledeploy.spi.outbox.NewEvent;
import dev.durabledeploy.spi.support.UnitsOfWork;
import java.time.Clock;
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
 * The reference metadata store: every unit of work runs under one monitor shared with the outbox,
 * which makes it one atom exactly as a SQL transaction or a Lua script would. Writes go to the maps
 * at once and are undone, in reverse, if the work throws; audit entries and events are kept aside
 * until it returns.
 */
final class InMemoryMetadataStore implements MetadataStore {

  private final UnitsOfWork guard = new UnitsOfWork("in-memory metadata store");

  private static final class SiteState {
    final TreeMap<DeployId, Deploy> deploys = new TreeMap<>();
    final TreeMap<AliasName, AliasRow> aliases = new TreeMap<>();
    final TreeMap<DeployId, Tombstone> tombstones = new TreeMap<>();
    Site record;

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

  /** One command's view of its site under the atom, and the events it appended. */
  private final class Tx implements SiteRows {
    final SiteId site;
    final SiteState state;
    final Instant now = clock.instant();
    final List<NewEvent> events = new ArrayList<>();
    final List<AuditEntry> entries = new ArrayList<>();

    /** How to take back each write, newest last. */
    final List<Runnable> undo = new ArrayList<>();

    Tx(SiteId site) {
      this.site = site;
      SiteState existing = sites.get(site);
      if (existing == null) {
        existing = new SiteState();
        sites.put(site, existing);
        undo.add(() -> sites.remove(site));
      }
      this.state = existing;
    }

    private <K, V> void put(TreeMap<K, V> map, K key, V value) {
      V before = map.put(key, value);
      undo.add(() -> restore(map, key, before));
    }

    private <K, V> void remove(TreeMap<K, V> map, K key) {
      V before = map.remove(key);
      undo.add(() -> restore(map, key, before));
    }

    void rollback() {
      for (int i = undo.size() - 1; i >= 0; i--) {
        undo.get(i).run();
      }
    }

    @Override
    public Instant now() {
      return now;
    }

    @Override
    public Instant stored(Instant at) {
      return at;
    }

    @Override
    public Deploy deploy(DeployId id) {
      return state.deploys.get(id);
    }

    @Override
    public Tombstone tombstone(DeployId id) {
      return state.tombstones.get(id);
    }

    @Override
    public Map<AliasName, AliasRow> aliases() {
      return java.util.Collections.unmodifiableMap(state.aliases);
    }

    @Override
    public int deployCount() {
      return state.deploys.size();
    }

    @Override
    public int tombstoneCount() {
      return state.tombstones.size();
    }

    @Override
    public Site site() {
      return state.record;
    }

    @Override
    public void putSite(Site site) {
      Site before = state.record;
      state.record = site;
      undo.add(() -> state.record = before);
    }

    @Override
    public void putDeploy(Deploy deploy) {
      put(state.deploys, deploy.id(), deploy);
    }

    @Override
    public void removeDeploy(DeployId id) {
      remove(state.deploys, id);
    }

    @Override
    public void putAlias(AliasName name, AliasRow row) {
      put(state.aliases, name, row);
    }

    @Override
    public void putTombstone(Tombstone tombstone) {
      put(state.tombstones, tombstone.deployId(), tombstone);
    }

    @Override
    public void removeTombstone(DeployId id) {
      remove(state.tombstones, id);
    }

    @Override
    public void removeAll() {
      for (DeployId id : List.copyOf(state.deploys.keySet())) {
        remove(state.deploys, id);
      }
      for (AliasName name : List.copyOf(state.aliases.keySet())) {
        remove(state.aliases, name);
      }
      for (DeployId id : List.copyOf(state.tombstones.keySet())) {
        remove(state.tombstones, id);
      }
      putSite(null);
    }

    @Override
    public void audit(Actor actor, String action, String target, String before, String after) {
      long id = audit.size() + entries.size() + 1L;
      entries.add(new AuditEntry(id, now, actor, action, site, target, before, after));
    }

    @Override
    public void emit(NewEvent event) {
      events.add(event);
    }
  }

  private static <K, V> void restore(TreeMap<K, V> map, K key, V before) {
    if (before == null) {
      map.remove(key);
    } else {
      map.put(key, before);
    }
  }

  @Override
  public <T> T inSite(String action, SiteId site, RowSelection rows, Function<SiteRows, T> work) {
    guard.requireStartable(action, site, rows);
    List<Long> appended = new ArrayList<>();
    T result;
    synchronized (atom) {
      Tx tx = new Tx(site);
      try {
        result = guard.run(action, site, rows, tx, work);
      } catch (Throwable e) {
        // Every throwable, checked ones too (a work in Kotlin or with Lombok's @SneakyThrows).
        tx.rollback();
        throw e;
      }
      if (!tx.state.hasContent() && tx.state.aliases.isEmpty() && tx.state.record == null) {
        sites.remove(site);
      }
      audit.addAll(tx.entries);
      for (NewEvent event : tx.events) {
        appended.add(outbox.appendLocked(event, tx.now));
      }
    }
    if (!appended.isEmpty()) {
      outbox.notifyAppended(appended);
    }
    return result;
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
    guard.requireOutside("findDeploy");
    return read(site, s -> Optional.ofNullable(s.deploys.get(id)), Optional.empty());
  }

  @Override
  public List<Deploy> listDeploys(SiteId site) {
    guard.requireOutside("listDeploys");
    return read(site, s -> List.copyOf(s.deploys.values()), List.of());
  }

  @Override
  public Optional<Alias> findAlias(SiteId site, AliasName alias) {
    guard.requireOutside("findAlias");
    return read(
        site,
        s -> Optional.ofNullable(liveAlias(site, alias, s.aliases.get(alias))),
        Optional.empty());
  }

  @Override
  public List<Alias> listAliases(SiteId site) {
    guard.requireOutside("listAliases");
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
    guard.requireOutside("findTombstone");
    return read(site, s -> Optional.ofNullable(s.tombstones.get(id)), Optional.empty());
  }

  @Override
  public List<Tombstone> listTombstones(SiteId site) {
    guard.requireOutside("listTombstones");
    return read(site, s -> List.copyOf(s.tombstones.values()), List.of());
  }

  @Override
  public List<Tombstone> listExpiredTombstones(Instant cutoff, int limit) {
    guard.requireOutside("listExpiredTombstones");
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
    guard.requireOutside("listSites");
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
  public Optional<Site> findSite(SiteId site) {
    guard.requireOutside("findSite");
    return read(site, s -> Optional.ofNullable(s.record), Optional.empty());
  }

  @Override
  public List<Site> listRegisteredSites(SiteId after, int limit) {
    guard.requireOutside("listRegisteredSites");
    Inputs.requireRange("limit", limit, 1, 100_000);
    synchronized (atom) {
      Map<SiteId, SiteState> tail = after == null ? sites : sites.tailMap(after, false);
      return tail.values().stream()
          .map(s -> s.record)
          .filter(Objects::nonNull)
          .limit(limit)
          .toList();
    }
  }

  @Override
  public List<Site> listExpiredSites(Instant cutoff, int limit) {
    guard.requireOutside("listExpiredSites");
    Objects.requireNonNull(cutoff, "cutoff");
    Inputs.requireRange("limit", limit, 1, 100_000);
    synchronized (atom) {
      return sites.values().stream()
          .map(s -> s.record)
          .filter(r -> r != null && r.purgeAfter() != null && !r.purgeAfter().isAfter(cutoff))
          .sorted(Comparator.comparing(Site::purgeAfter).thenComparing(r -> r.id().value()))
          .limit(limit)
          .toList();
    }
  }

  @Override
  public List<AuditEntry> auditLog(SiteId site, int limit) {
    guard.requireOutside("auditLog");
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

  private static Alias liveAlias(SiteId site, AliasName name, AliasRow row) {
    return row == null ? null : row.toAlias(site, name);
  }
}
