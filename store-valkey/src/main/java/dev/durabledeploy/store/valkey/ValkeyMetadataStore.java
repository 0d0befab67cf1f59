package dev.durabledeploy.store.valkey;

import dev.durabledeploy.spi.Actor;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.Inputs;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.exception.TransientStoreException;
import dev.durabledeploy.spi.health.Health;
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
import io.lettuce.core.Limit;
import io.lettuce.core.Range;
import io.lettuce.core.ScriptOutputType;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BiFunction;
import java.util.function.Function;

/**
 * The metadata store on Valkey. Each unit of work reads what it needs from its site (one script:
 * every alias, the deploys they target, the rows the work selects, the row counts), runs the work
 * against that snapshot, and commits with one script ({@code site-commit.lua}) that applies the
 * writes, the audit entries and the outbox events only if the site's revision is still the one it
 * read, and bumps it. The read and the write are thus one atom per site (optimistic, like a
 * serialisable transaction): a unit of work that lost a race with another on the same site reads
 * again and runs again, so an alias CAS, the "refused while aliased" check of a tombstone and the
 * events it appends never act on stale state. A unit of work that writes nothing commits nothing.
 *
 * <p>A site's rows are hashes under its hash tag, its registry record a string beside them (read by
 * every unit of work, whatever its selection); {@code {meta}} indexes list sites with content,
 * registered sites, trashed sites by purge time and tombstones by expiry for the sweeps. Key
 * layout: {@code Keys}. Nothing of a deleted site stays but its audit log, which every commit trims
 * to its newest {@code auditLogLength} entries: the revision goes with the site's last row, and
 * revisions and audit ids come from namespace-wide counters, so neither repeats when a site is
 * deleted and created again.
 */
final class ValkeyMetadataStore implements MetadataStore {

  private final UnitsOfWork guard = new UnitsOfWork("Valkey metadata store");

  /** Re-reads after a lost race before giving up; each waits a little longer (jittered). */
  private static final int MAX_ATTEMPTS = 100;

  private final Valkey valkey;
  private final Keys keys;
  private final Clock clock;
  private final String auditLogLength;

  ValkeyMetadataStore(Valkey valkey, Keys keys, Clock clock, int auditLogLength) {
    this.valkey = valkey;
    this.keys = keys;
    this.clock = clock;
    this.auditLogLength = Integer.toString(auditLogLength);
  }

  /** One command's rows as read, and the operations of the commit script it decides on. */
  private final class Tx implements SiteRows {
    final SiteId site;
    final String revision;
    final Instant now = Micros.now(clock);
    final Map<DeployId, Deploy> deploys = new TreeMap<>();
    final Map<AliasName, AliasRow> aliases = new TreeMap<>();
    final Map<DeployId, Tombstone> tombstones = new TreeMap<>();
    final List<String> ops = new ArrayList<>();
    int deployCount;
    int tombstoneCount;
    Site record;

    Tx(SiteId site, List<Object> snapshot) {
      this.site = site;
      this.revision = (String) snapshot.get(0);
      pairs(snapshot.get(1))
          .forEach((k, v) -> deploys.put(DeployId.of(k), Records.deploy(site, DeployId.of(k), v)));
      pairs(snapshot.get(2)).forEach((k, v) -> aliases.put(AliasName.of(k), Records.alias(v)));
      pairs(snapshot.get(3))
          .forEach(
              (k, v) -> tombstones.put(DeployId.of(k), Records.tombstone(site, DeployId.of(k), v)));
      this.deployCount = ((Long) snapshot.get(4)).intValue();
      this.tombstoneCount = ((Long) snapshot.get(5)).intValue();
      String stored = (String) snapshot.get(6);
      this.record = stored.isEmpty() ? null : Records.site(site, stored);
    }

    @Override
    public Instant now() {
      return now;
    }

    @Override
    public Instant stored(Instant at) {
      return Micros.truncate(at);
    }

    @Override
    public Deploy deploy(DeployId id) {
      return deploys.get(id);
    }

    @Override
    public Tombstone tombstone(DeployId id) {
      return tombstones.get(id);
    }

    @Override
    public Map<AliasName, AliasRow> aliases() {
      return Collections.unmodifiableMap(aliases);
    }

    @Override
    public int deployCount() {
      return deployCount;
    }

    @Override
    public int tombstoneCount() {
      return tombstoneCount;
    }

    @Override
    public Site site() {
      return record;
    }

    @Override
    public void putSite(Site r) {
      record = r;
      ops.addAll(
          List.of(
              "RECORD", Records.site(r), r.purgeAfter() == null ? "" : Micros.of(r.purgeAfter())));
    }

    @Override
    public void putDeploy(Deploy d) {
      if (deploys.put(d.id(), d) == null) {
        deployCount++;
      }
      ops.addAll(List.of("HSET", "deploys", d.id().value(), Records.deploy(d)));
    }

    @Override
    public void removeDeploy(DeployId id) {
      if (deploys.remove(id) != null) {
        deployCount--;
      }
      ops.addAll(List.of("HDEL", "deploys", id.value()));
    }

    @Override
    public void putAlias(AliasName name, AliasRow row) {
      aliases.put(name, row);
      ops.addAll(List.of("HSET", "aliases", name.value(), Records.alias(row)));
    }

    @Override
    public void putTombstone(Tombstone t) {
      if (tombstones.put(t.deployId(), t) == null) {
        tombstoneCount++;
      }
      ops.addAll(List.of("HSET", "tombstones", t.deployId().value(), Records.tombstone(t)));
      ops.addAll(List.of("EXP+", expiryMember(site, t.deployId()), Micros.of(t.expiresAt())));
    }

    @Override
    public void removeTombstone(DeployId id) {
      if (tombstones.remove(id) != null) {
        tombstoneCount--;
      }
      ops.addAll(List.of("HDEL", "tombstones", id.value()));
      ops.addAll(List.of("EXP-", expiryMember(site, id)));
    }

    @Override
    public void removeAll() {
      // CLEAR drops the expiry entries of every tombstone of the site, not only those read: a
      // work that selected some rows still removes them all. The record goes with its indexes.
      record = null;
      deploys.clear();
      aliases.clear();
      tombstones.clear();
      deployCount = 0;
      tombstoneCount = 0;
      ops.add("CLEAR");
    }

    @Override
    public void audit(Actor actor, String action, String target, String before, String after) {
      ops.addAll(
          List.of(
              "AUDIT", auditLogLength, Records.audit(now, actor, action, target, before, after)));
    }

    @Override
    public void emit(NewEvent event) {
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

  private Tx read(SiteId site, RowSelection rows) {
    List<String> args = new ArrayList<>();
    if (rows.wholeSite()) {
      args.add("all");
    } else {
      args.add("some");
      args.add(Integer.toString(rows.deploys().size()));
      rows.deploys().forEach(id -> args.add(id.value()));
      rows.tombstones().forEach(id -> args.add(id.value()));
    }
    List<Object> snapshot =
        valkey.script(
            "site-read",
            ScriptOutputType.MULTI,
            List.of(
                keys.site(site, "rev"),
                keys.site(site, "deploys"),
                keys.site(site, "aliases"),
                keys.site(site, "tombstones"),
                keys.site(site, "site")),
            args);
    return new Tx(site, snapshot);
  }

  /** Whether the site keeps a deploy, a live alias or a tombstone (it is listed by listSites). */
  private static boolean hasContent(Tx tx) {
    return tx.deployCount() > 0
        || tx.tombstoneCount() > 0
        || tx.aliases().values().stream().anyMatch(a -> a.target() != null);
  }

  @Override
  public <T> T inSite(String action, SiteId site, RowSelection rows, Function<SiteRows, T> work) {
    guard.requireStartable(action, site, rows);
    for (int attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      Tx tx = read(site, rows);
      T result = guard.run(action, site, rows, tx, work);
      if (tx.ops.isEmpty()) {
        return result;
      }
      List<String> args = new ArrayList<>(tx.ops.size() + 5);
      args.add(keys.namespace());
      args.add(site.value());
      args.add(tx.revision);
      args.add(Micros.of(tx.now));
      args.addAll(tx.ops);
      args.add(hasContent(tx) ? "SITE+" : "SITE-");
      Long committed = valkey.script("site-commit", ScriptOutputType.INTEGER, List.of(), args);
      if (committed >= 0) {
        return result;
      }
      // Another unit of work on this site committed between our read and our commit: run again.
      LockSupport.parkNanos(
          ThreadLocalRandom.current().nextLong(1, 50_000L * Math.min(attempt, 20)));
    }
    throw new TransientStoreException(
        action
            + " on site "
            + site
            + " lost the race with other commands on the same site "
            + MAX_ATTEMPTS
            + " times in a row; retry it, and check for a host writing to this site in a loop");
  }

  private static Alias liveAlias(SiteId site, AliasName name, AliasRow row) {
    return row == null ? null : row.toAlias(site, name);
  }

  // ---- queries -----------------------------------------------------------------------------

  /** One row of one of the site's hashes, parsed; empty when absent. */
  private <T> Optional<T> row(SiteId site, String hash, String field, Function<String, T> parse) {
    Objects.requireNonNull(site, "site");
    String value =
        valkey.call(
            "reading " + hash + " of site " + site,
            () -> valkey.commands().hget(keys.site(site, hash), field));
    return Optional.ofNullable(value).map(parse);
  }

  /** Every row of one of the site's hashes, parsed (nulls left out), in key order. */
  private <K extends Comparable<K>, T> List<T> rows(
      SiteId site, String hash, Function<String, K> key, BiFunction<K, String, T> parse) {
    Objects.requireNonNull(site, "site");
    Map<String, String> all =
        valkey.call(
            "listing " + hash + " of site " + site,
            () -> valkey.commands().hgetall(keys.site(site, hash)));
    TreeMap<K, T> sorted = new TreeMap<>();
    all.forEach(
        (field, value) -> {
          K k = key.apply(field);
          T parsed = parse.apply(k, value);
          if (parsed != null) {
            sorted.put(k, parsed);
          }
        });
    return List.copyOf(sorted.values());
  }

  @Override
  public Optional<Deploy> findDeploy(SiteId site, DeployId id) {
    guard.requireOutside("findDeploy");
    Objects.requireNonNull(id, "deployId");
    return row(site, "deploys", id.value(), v -> Records.deploy(site, id, v));
  }

  @Override
  public List<Deploy> listDeploys(SiteId site) {
    guard.requireOutside("listDeploys");
    return rows(site, "deploys", DeployId::of, (id, v) -> Records.deploy(site, id, v));
  }

  @Override
  public Optional<Alias> findAlias(SiteId site, AliasName alias) {
    guard.requireOutside("findAlias");
    Objects.requireNonNull(alias, "alias");
    return row(site, "aliases", alias.value(), v -> liveAlias(site, alias, Records.alias(v)));
  }

  @Override
  public List<Alias> listAliases(SiteId site) {
    guard.requireOutside("listAliases");
    return rows(
        site, "aliases", AliasName::of, (name, v) -> liveAlias(site, name, Records.alias(v)));
  }

  @Override
  public Optional<Tombstone> findTombstone(SiteId site, DeployId id) {
    guard.requireOutside("findTombstone");
    Objects.requireNonNull(id, "deployId");
    return row(site, "tombstones", id.value(), v -> Records.tombstone(site, id, v));
  }

  @Override
  public List<Tombstone> listTombstones(SiteId site) {
    guard.requireOutside("listTombstones");
    return rows(site, "tombstones", DeployId::of, (id, v) -> Records.tombstone(site, id, v));
  }

  @Override
  public List<Tombstone> listExpiredTombstones(Instant cutoff, int limit) {
    guard.requireOutside("listExpiredTombstones");
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
    guard.requireOutside("listSites");
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
  public Optional<Site> findSite(SiteId site) {
    guard.requireOutside("findSite");
    Objects.requireNonNull(site, "site");
    String stored =
        valkey.call(
            "reading the record of site " + site,
            () -> valkey.commands().get(keys.site(site, "site")));
    return Optional.ofNullable(stored).map(v -> Records.site(site, v));
  }

  @Override
  public List<Site> listRegisteredSites(SiteId after, int limit) {
    guard.requireOutside("listRegisteredSites");
    Inputs.requireRange("limit", limit, 1, 100_000);
    return records("registered", limit, after == null ? "-" : "(" + after.value());
  }

  @Override
  public List<Site> listExpiredSites(Instant cutoff, int limit) {
    guard.requireOutside("listExpiredSites");
    Objects.requireNonNull(cutoff, "cutoff");
    Inputs.requireRange("limit", limit, 1, 100_000);
    // Members of one score sort by id, which is the order ties are promised in.
    return records("expired", limit, Micros.of(cutoff));
  }

  /** Records from one of the {meta} site indexes, read with it in one script. */
  private List<Site> records(String index, int limit, String bound) {
    List<Object> flat =
        valkey.script(
            "site-records",
            ScriptOutputType.MULTI,
            List.of(),
            List.of(keys.namespace(), index, Integer.toString(limit), bound));
    List<Site> out = new ArrayList<>(flat.size() / 2);
    for (int i = 0; i + 1 < flat.size(); i += 2) {
      out.add(Records.site(SiteId.of((String) flat.get(i)), (String) flat.get(i + 1)));
    }
    return out;
  }

  @Override
  public List<AuditEntry> auditLog(SiteId site, int limit) {
    guard.requireOutside("auditLog");
    Objects.requireNonNull(site, "site");
    Inputs.requireRange("limit", limit, 1, 100_000);
    List<String> entries =
        valkey.call(
            "reading the audit log of site " + site,
            () -> valkey.commands().lrange(keys.site(site, "audit"), 0, limit - 1L));
    return entries.stream().map(e -> Records.audit(site, e)).toList();
  }

  /**
   * The server's settings and persistence, judged for a store that keeps data ({@link
   * ServerHealth}).
   */
  @Override
  public Health health() {
    return ServerHealth.probe(valkey, true);
  }
}
