package dev.durabledeploy.store.valkey;

import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.health.Health;
import dev.durabledeploy.spi.metadata.Alias;
import dev.durabledeploy.spi.metadata.AuditEntry;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.spi.metadata.MetadataStore;
import dev.durabledeploy.spi.metadata.RowSelection;
import dev.durabledeploy.spi.metadata.Site;
import dev.durabledeploy.spi.metadata.SiteRows;
import dev.durabledeploy.spi.metadata.Tombstone;
import dev.durabledeploy.spi.support.UnitsOfWork;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * A read-through cache of each site's aliases and live deploys in front of any {@link
 * MetadataStore}, kept honest by the change bus (see {@link ValkeyStore#cached}):
 *
 * <ul>
 *   <li>Single flight: concurrent misses for one site share one load.
 *   <li>Every unit of work through this store drops the site here at once and publishes {@code
 *       site.changed} on the bus, so every other host drops it too.
 *   <li>A load that raced with an invalidation is handed to its callers but not kept.
 *   <li>While the bus is disconnected nothing is cached (reads go to the store), and the whole
 *       cache is dropped on reconnect: messages missed meanwhile cannot leave stale entries.
 *   <li>Entries also expire after a time to live, which bounds staleness should a message be lost
 *       while the bus looked connected.
 * </ul>
 *
 * Reads on the host that wrote see the write at once; another host drops its copy when the change
 * message reaches it, so for that long (the bus's delivery time, well under a second on one server)
 * a read there can answer the previous value. A host that must read its own write on any instance
 * reads through the store itself. Losing the cache makes it cold, never wrong: units of work (and
 * so every command: CAS, tombstone, ...) always run against the store, never against cached values.
 */
public final class CachingMetadataStore implements MetadataStore {

  private final UnitsOfWork guard = new UnitsOfWork("Valkey metadata cache");

  private record SiteView(List<Alias> aliases, List<Deploy> deploys, Instant loadedAt) {}

  private final MetadataStore store;
  private final Clock clock;
  private final Duration ttl;
  private final ChangeBus bus;
  private final Map<SiteId, CompletableFuture<SiteView>> views = new ConcurrentHashMap<>();
  private final Map<SiteId, AtomicLong> generations = new ConcurrentHashMap<>();
  private final LongAdder loads = new LongAdder();

  CachingMetadataStore(MetadataStore store, Clock clock, Duration ttl, ChangeBus bus) {
    this.store = store;
    this.clock = clock;
    this.ttl = ttl;
    this.bus = bus;
    bus.onChange(this::invalidate);
    bus.onReset(this::invalidateAll);
  }

  /** How many times a site view was loaded from the store (for tests and metrics). */
  public long loads() {
    return loads.sum();
  }

  /** Drops the site's cached view (another host changed it). */
  void invalidate(SiteId site) {
    generation(site).incrementAndGet();
    views.remove(site);
  }

  /** Drops everything (the bus reconnected; messages may have been missed). */
  void invalidateAll() {
    generations.values().forEach(AtomicLong::incrementAndGet);
    views.clear();
  }

  private AtomicLong generation(SiteId site) {
    return generations.computeIfAbsent(site, s -> new AtomicLong());
  }

  private SiteView view(SiteId site) {
    if (!bus.isConnected()) {
      return load(site);
    }
    while (true) {
      long generation = generation(site).get();
      CompletableFuture<SiteView> mine = new CompletableFuture<>();
      CompletableFuture<SiteView> current = views.putIfAbsent(site, mine);
      if (current == null) {
        try {
          SiteView loaded = load(site);
          mine.complete(loaded);
          if (generation(site).get() != generation || !bus.isConnected()) {
            views.remove(site, mine); // changed while loading: serve it, do not keep it
          }
          return loaded;
        } catch (RuntimeException e) {
          views.remove(site, mine);
          mine.completeExceptionally(e);
          throw e;
        }
      }
      try {
        SiteView cached = current.join();
        if (!cached.loadedAt().plus(ttl).isBefore(clock.instant())) {
          return cached;
        }
        views.remove(site, current); // expired: the next round loads
      } catch (CompletionException e) {
        // The shared load failed: fail like it, the next caller loads again.
        throw e.getCause() instanceof RuntimeException r ? r : e;
      }
    }
  }

  private SiteView load(SiteId site) {
    loads.increment();
    return new SiteView(store.listAliases(site), store.listDeploys(site), clock.instant());
  }

  private <T> T mutate(SiteId site, Supplier<T> command) {
    try {
      return command.get();
    } finally {
      // Also after a failure: an ambiguous one (a timeout after commit) may have changed it.
      invalidate(site);
      bus.publish(site);
    }
  }

  // ---- cached reads ----------------------------------------------------------------------------

  @Override
  public List<Deploy> listDeploys(SiteId site) {
    guard.requireOutside("listDeploys");
    return view(site).deploys();
  }

  @Override
  public List<Alias> listAliases(SiteId site) {
    guard.requireOutside("listAliases");
    return view(site).aliases();
  }

  @Override
  public Optional<Alias> findAlias(SiteId site, AliasName alias) {
    guard.requireOutside("findAlias");
    return view(site).aliases().stream().filter(a -> a.name().equals(alias)).findFirst();
  }

  // ---- units of work: through to the store, then invalidate everywhere ----------------------

  @Override
  public <T> T inSite(String action, SiteId site, RowSelection rows, Function<SiteRows, T> work) {
    guard.requireStartable(action, site, rows);
    return mutate(
        site, () -> store.inSite(action, site, rows, r -> guard.run(action, site, rows, r, work)));
  }

  // ---- other reads: not cached -----------------------------------------------------------------

  @Override
  public Optional<Deploy> findDeploy(SiteId site, DeployId id) {
    guard.requireOutside("findDeploy");
    return store.findDeploy(site, id);
  }

  @Override
  public Optional<Tombstone> findTombstone(SiteId site, DeployId id) {
    guard.requireOutside("findTombstone");
    return store.findTombstone(site, id);
  }

  @Override
  public List<Tombstone> listTombstones(SiteId site) {
    guard.requireOutside("listTombstones");
    return store.listTombstones(site);
  }

  @Override
  public List<Tombstone> listExpiredTombstones(Instant cutoff, int limit) {
    guard.requireOutside("listExpiredTombstones");
    return store.listExpiredTombstones(cutoff, limit);
  }

  @Override
  public List<SiteId> listSites(SiteId after, int limit) {
    guard.requireOutside("listSites");
    return store.listSites(after, limit);
  }

  // Site records are not kept with the view: every view load would pay one more read for hosts
  // that never ask, and a trash or purge on another host would show here only once its change
  // message arrived. One GET on the store is cheap and never stale.
  @Override
  public Optional<Site> findSite(SiteId site) {
    guard.requireOutside("findSite");
    return store.findSite(site);
  }

  @Override
  public List<Site> listRegisteredSites(SiteId after, int limit) {
    guard.requireOutside("listRegisteredSites");
    return store.listRegisteredSites(after, limit);
  }

  @Override
  public List<Site> listExpiredSites(Instant cutoff, int limit) {
    guard.requireOutside("listExpiredSites");
    return store.listExpiredSites(cutoff, limit);
  }

  @Override
  public List<AuditEntry> auditLog(SiteId site, int limit) {
    guard.requireOutside("auditLog");
    return store.auditLog(site, limit);
  }

  /**
   * The health of the store behind the cache (the source of truth), with the sites this cache holds
   * a view of.
   */
  @Override
  public Health health() {
    return store.health().withDetail("cachedSites", views.size());
  }
}
