package dev.durabledeploy.store.postgres;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.durabledeploy.spi.Actor;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.Inputs;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.health.Health;
import dev.durabledeploy.spi.metadata.Alias;
import dev.durabledeploy.spi.metadata.AliasRow;
import dev.durabledeploy.spi.metadata.AuditEntry;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.spi.metadata.MetadataStore;
import dev.durabledeploy.spi.metadata.RowSelection;
import dev.durabledeploy.spi.metadata.Site;
import dev.durabledeploy.spi.metadata.SiteProfile;
import dev.durabledeploy.spi.metadata.SiteRows;
import dev.durabledeploy.spi.metadata.SiteState;
import dev.durabledeploy.spi.metadata.Tombstone;
import dev.durabledeploy.spi.outbox.NewEvent;
import dev.durabledeploy.spi.support.UnitsOfWork;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.Function;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;

/**
 * The deploy index on PostgreSQL. Each unit of work is one transaction that first takes a
 * transaction-scoped advisory lock on its site (key space {@code meta}, distinct from the saga's
 * site lock), so its reads and writes — and its outbox events and audit entries — form one atom
 * exactly like a Lua script on Valkey. This class reads and writes the rows the work names; the
 * decisions are the core's. An alias is still updated with {@code UPDATE ... WHERE version = :read}
 * for belt and braces. The site's registry record (table {@code sites}) is read with the lock, in
 * the same round trip, and written once when the work returns.
 *
 * <p>A unit of work takes two round trips: the lock with every row the work selected (its record,
 * its aliases, the selected deploys and tombstones, the deploys its aliases target), then its
 * writes with the outbox events, the {@code NOTIFY} and the commit. With {@code
 * synchronous_commit=on} the commit's flush is the cost of a single-row INSERT, so every round trip
 * beyond it counts.
 */
final class PgMetadataStore implements MetadataStore {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final TypeReference<TreeMap<String, String>> LABELS = new TypeReference<>() {};

  private final UnitsOfWork guard = new UnitsOfWork("PostgreSQL metadata store");

  private final Jdbi jdbi;
  private final PgOutbox outbox;
  private final String schema;
  private final PoolStats pool;

  PgMetadataStore(Jdbi jdbi, PgOutbox outbox, String schema, PoolStats pool) {
    this.jdbi = jdbi;
    this.outbox = outbox;
    this.schema = schema;
    this.pool = pool;
  }

  /**
   * One {@code SELECT 1} through the pool, and the pool's gauges. Callers waiting for a connection
   * ({@code poolWaiting}) are reported, not judged: the plane's own probes run at once and may wait
   * for each other on a small pool.
   */
  @Override
  public Health health() {
    Sql.call(
        "health probe",
        () -> jdbi.withHandle(h -> h.createQuery("SELECT 1").mapTo(Integer.class).one()));
    return Health.up(pool.read());
  }

  /**
   * One command's rows. What the work reads was read with the lock, in the same round trip; what it
   * writes is queued and sent with the commit, in one more. A read the first round trip did not
   * cover (a deploy outside the selection of a whole-site work, a count) first sends the writes
   * queued so far, so it sees them, as every read of a unit of work sees the work's own writes.
   */
  private final class Tx implements SiteRows {
    final Connection c;
    final SiteId site;
    final Instant now = outbox.now();
    final List<NewEvent> events = new ArrayList<>();
    private final Map<AliasName, AliasRow> aliases = new TreeMap<>();

    /** The deploys and tombstones known to the work: as read, then as written (null: absent). */
    private final Map<DeployId, Deploy> deploys = new java.util.HashMap<>();

    private final Map<DeployId, Tombstone> tombstones = new java.util.HashMap<>();

    /** After {@link #removeAll}: every row is known, absent unless the work wrote it since. */
    private boolean allKnown;

    /** The writes not yet sent, in the order the work made them. */
    private Pipeline writes = new Pipeline();

    /** The site's record as the work sees it: read at the start, then as the work put it. */
    private Site record;

    /**
     * Whether {@link #record} may differ from the table's row, to be written by {@link #commit}.
     */
    private boolean recordChanged;

    Tx(Connection c, SiteId site) {
      this.c = c;
      this.site = site;
    }

    /**
     * Opens the transaction, takes the site's metadata lock and reads the site's record, its
     * aliases, the selected deploys and tombstones and the deploys its aliases target: one round
     * trip.
     *
     * <p>Lock: the site's metadata lock (transaction-scoped), making this command one atom against
     * every other command on the site.
     *
     * <p>The reads are statements of their own after the lock's, not part of it: under READ
     * COMMITTED a statement sees what was committed when it started, so a read joined to the lock
     * call could miss a record committed while it waited for the lock.
     *
     * <p>The lock's statement also sets {@link #GENERIC_PLANS} for the transaction, at no statement
     * of its own.
     */
    void begin(RowSelection selection) throws SQLException {
      String[] selected = ids(selection.deploys());
      String[] selectedTombstones = ids(selection.tombstones());
      List<Deploy> read = new ArrayList<>();
      int[] results = {0};
      new Pipeline()
          .add("BEGIN")
          .add(
              "SELECT pg_advisory_xact_lock(?), " + GENERIC_PLANS,
              Sql.lockKey("meta", schema, site.value()))
          .add("SELECT * FROM " + schema + ".sites WHERE site = ?", site.value())
          .add("SELECT * FROM " + schema + ".aliases WHERE site = ?", site.value())
          .add(selectedDeploysSql(schema), selected, site.value(), site.value())
          .add(
              "SELECT * FROM " + schema + ".tombstones WHERE site = ? AND deploy_id = ANY (?)",
              site.value(),
              selectedTombstones)
          .run(
              c,
              rs -> {
                switch (results[0]++) {
                  case 0 -> {} // the lock
                  case 1 -> record = rs.next() ? siteRow(rs) : null;
                  case 2 -> {
                    while (rs.next()) {
                      aliases.put(AliasName.of(rs.getString("name")), aliasRow(rs));
                    }
                  }
                  case 3 -> {
                    while (rs.next()) {
                      read.add(Sql.deploy(rs));
                    }
                  }
                  case 4 -> {
                    while (rs.next()) {
                      Tombstone t = tombstoneRow(rs);
                      tombstones.put(t.deployId(), t);
                    }
                  }
                  default -> throw new IllegalStateException("one result set too many");
                }
              });
      if (results[0] != 5) {
        throw new IllegalStateException(
            "the driver returned "
                + results[0]
                + " of the unit of work's 5 reads; check that the PostgreSQL JDBC driver runs"
                + " multi-statement queries");
      }
      for (DeployId id : selection.deploys()) {
        deploys.put(id, null);
      }
      for (AliasRow alias : aliases.values()) {
        if (alias.target() != null) {
          deploys.put(alias.target(), null);
        }
      }
      for (Deploy d : read) {
        deploys.put(d.id(), d);
      }
      for (DeployId id : selection.tombstones()) {
        tombstones.putIfAbsent(id, null);
      }
    }

    /**
     * Sends the queued writes, the record, the events and the commit: one round trip. The events
     * are appended claimed for this process's relay where their site has nothing undelivered
     * (docs/architecture.md, "Wake-up"), and handed to it once the commit returned.
     */
    void commit() throws SQLException {
      writeRecord();
      PgOutbox.Append append = outbox.appending(now, events, true);
      if (!append.isEmpty()) {
        append.lockSites(writes).add(append.sql(), append.parameters());
      }
      writes.add("COMMIT").run(c, append::read);
      if (!append.isEmpty()) {
        append.committed();
      }
    }

    /** Sends the writes queued so far, so that a read made now sees them. */
    private void sendWrites() {
      if (writes.isEmpty()) {
        return;
      }
      try {
        writes.run(c);
      } catch (SQLException e) {
        throw new SqlFailure(e);
      }
      writes = new Pipeline();
    }

    /** A read the first round trip did not cover, after the writes queued so far. */
    private void query(String sql, Pipeline.ResultSets rows, Object... parameters) {
      sendWrites();
      try {
        new Pipeline().add(sql, parameters).run(c, rows);
      } catch (SQLException e) {
        throw new SqlFailure(e);
      }
    }

    @Override
    public Instant now() {
      return now;
    }

    @Override
    public Instant stored(Instant at) {
      return at.truncatedTo(ChronoUnit.MICROS);
    }

    @Override
    public Deploy deploy(DeployId id) {
      if (!allKnown && !deploys.containsKey(id)) {
        deploys.put(id, null);
        query(
            "SELECT * FROM " + schema + ".deploys WHERE site = ? AND deploy_id = ?",
            rs -> {
              if (rs.next()) {
                deploys.put(id, Sql.deploy(rs));
              }
            },
            site.value(),
            id.value());
      }
      return deploys.get(id);
    }

    @Override
    public Tombstone tombstone(DeployId id) {
      if (!allKnown && !tombstones.containsKey(id)) {
        tombstones.put(id, null);
        query(
            "SELECT * FROM " + schema + ".tombstones WHERE site = ? AND deploy_id = ?",
            rs -> {
              if (rs.next()) {
                tombstones.put(id, tombstoneRow(rs));
              }
            },
            site.value(),
            id.value());
      }
      return tombstones.get(id);
    }

    @Override
    public Map<AliasName, AliasRow> aliases() {
      return Collections.unmodifiableMap(aliases);
    }

    @Override
    public int deployCount() {
      return count("deploys");
    }

    @Override
    public int tombstoneCount() {
      return count("tombstones");
    }

    private int count(String table) {
      int[] count = {0};
      query(
          "SELECT count(*) FROM " + schema + "." + table + " WHERE site = ?",
          rs -> {
            rs.next();
            count[0] = rs.getInt(1);
          },
          site.value());
      return count[0];
    }

    @Override
    public Site site() {
      return record;
    }

    @Override
    public void putSite(Site site) {
      record = site;
      recordChanged = true;
    }

    /**
     * Queues the record the work left, once, however many times it put or removed it (a purge
     * removes everything and puts the PURGING record back in one work).
     */
    private void writeRecord() {
      if (!recordChanged) {
        return;
      }
      if (record == null) {
        writes.add("DELETE FROM " + schema + ".sites WHERE site = ?", site.value());
        return;
      }
      SiteProfile profile = record.profile();
      writes.add(
          "INSERT INTO "
              + schema
              + ".sites (site, display_name, owner, labels, state, created_at,"
              + " updated_at, purge_after, version) VALUES (?, ?, ?, CAST(? AS jsonb), ?, ?, ?, ?, ?)"
              + " ON CONFLICT (site) DO UPDATE SET display_name = EXCLUDED.display_name,"
              + " owner = EXCLUDED.owner, labels = EXCLUDED.labels, state = EXCLUDED.state,"
              + " created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at,"
              + " purge_after = EXCLUDED.purge_after, version = EXCLUDED.version",
          site.value(),
          profile.displayName(),
          profile.owner(),
          labelsJson(profile.labels()),
          record.state().name(),
          Sql.ts(record.createdAt()),
          Sql.ts(record.updatedAt()),
          Sql.ts(record.purgeAfter()),
          record.version());
    }

    @Override
    public void putDeploy(Deploy d) {
      writes.add(
          "INSERT INTO "
              + schema
              + ".deploys (site, deploy_id, sha, state, created_at, finalized_at, released_at,"
              + " restored_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (site, deploy_id) DO"
              + " UPDATE SET sha = EXCLUDED.sha, state = EXCLUDED.state,"
              + " created_at = EXCLUDED.created_at, finalized_at = EXCLUDED.finalized_at,"
              + " released_at = EXCLUDED.released_at, restored_at = EXCLUDED.restored_at",
          columns(d));
      deploys.put(d.id(), d);
    }

    /** The bindings of a deploy row, shared by the deploys and tombstones tables, in order. */
    private Object[] columns(Deploy d) {
      return new Object[] {
        site.value(),
        d.id().value(),
        d.sha(),
        d.state().name(),
        Sql.ts(d.createdAt()),
        Sql.ts(d.finalizedAt()),
        Sql.ts(d.releasedAt()),
        Sql.ts(d.restoredAt())
      };
    }

    @Override
    public void removeDeploy(DeployId id) {
      writes.add(
          "DELETE FROM " + schema + ".deploys WHERE site = ? AND deploy_id = ?",
          site.value(),
          id.value());
      deploys.put(id, null);
    }

    @Override
    public void putAlias(AliasName name, AliasRow row) {
      AliasRow read = aliases.get(name);
      String target = row.target() == null ? null : row.target().value();
      if (read == null) {
        writes.add(
            "INSERT INTO "
                + schema
                + ".aliases (site, name, deploy_id, version, updated_at) VALUES (?, ?, ?, ?, ?)",
            site.value(),
            name.value(),
            target,
            row.version(),
            Sql.ts(row.updatedAt()));
      } else {
        // The version guard fails the statement (and so the commit queued behind it) when the row
        // changed under the lock: it cannot be checked in Java, the commit is in the same round
        // trip.
        writes.add(
            "WITH moved AS (UPDATE "
                + schema
                + ".aliases SET deploy_id = ?, version = ?, updated_at = ?"
                + " WHERE site = ? AND name = ? AND version = ? RETURNING 1)"
                + " SELECT CAST(CASE WHEN count(*) = 1 THEN '1'"
                + " ELSE 'alias row changed under the site''s metadata lock' END AS integer)"
                + " FROM moved",
            target,
            row.version(),
            Sql.ts(row.updatedAt()),
            site.value(),
            name.value(),
            read.version());
      }
      aliases.put(name, row);
    }

    @Override
    public void putTombstone(Tombstone t) {
      Object[] deploy = columns(t.deploy());
      Object[] parameters = java.util.Arrays.copyOf(deploy, deploy.length + 2);
      parameters[deploy.length] = Sql.ts(t.deletedAt());
      parameters[deploy.length + 1] = Sql.ts(t.expiresAt());
      writes.add(
          "INSERT INTO "
              + schema
              + ".tombstones (site, deploy_id, sha, state, created_at, finalized_at,"
              + " released_at, restored_at, deleted_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?,"
              + " ?, ?, ?) ON CONFLICT (site, deploy_id) DO UPDATE SET sha = EXCLUDED.sha,"
              + " state = EXCLUDED.state, created_at = EXCLUDED.created_at,"
              + " finalized_at = EXCLUDED.finalized_at, released_at = EXCLUDED.released_at,"
              + " restored_at = EXCLUDED.restored_at, deleted_at = EXCLUDED.deleted_at,"
              + " expires_at = EXCLUDED.expires_at",
          parameters);
      tombstones.put(t.deployId(), t);
    }

    @Override
    public void removeTombstone(DeployId id) {
      writes.add(
          "DELETE FROM " + schema + ".tombstones WHERE site = ? AND deploy_id = ?",
          site.value(),
          id.value());
      tombstones.put(id, null);
    }

    @Override
    public void removeAll() {
      for (String table : List.of("deploys", "aliases", "tombstones")) {
        writes.add("DELETE FROM " + schema + "." + table + " WHERE site = ?", site.value());
      }
      aliases.clear();
      deploys.clear();
      tombstones.clear();
      allKnown = true;
      if (record != null) {
        recordChanged = true;
      }
      record = null;
    }

    @Override
    public void audit(Actor actor, String action, String target, String before, String after) {
      writes.add(
          "INSERT INTO "
              + schema
              + ".audit_log (at, actor, action, site, target, before, after)"
              + " VALUES (?, ?, ?, ?, ?, ?, ?)",
          Sql.ts(now),
          // PostgreSQL text cannot hold NUL; the other stores keep it, this one a space.
          Sql.clean(actor.value()),
          Sql.clean(action),
          site.value(),
          Sql.clean(target),
          Sql.clean(before),
          Sql.clean(after));
    }

    @Override
    public void emit(NewEvent event) {
      events.add(event);
    }
  }

  /**
   * Makes every later statement of the transaction run with its generic plan (a select-list item,
   * {@code SET LOCAL} as a function): a unit of work's statements are the same few on every
   * command, each planned once per connection, not on every call. Without it PostgreSQL kept
   * planning the outbox append anew on every call (a custom plan of its arrays costs less than the
   * generic one, which does not know their length): about 0.2 ms of a command's 0.5 ms of server
   * time. The generic plans are the ones tested to be index-driven ({@code
   * PgUnitOfWorkRoundTripsTest}).
   */
  static final String GENERIC_PLANS = "set_config('plan_cache_mode', 'force_generic_plan', true)";

  /**
   * The selected deploys and the deploys the aliases target ({@code ?}: ids, site, site): each key
   * looked up on its own in the primary key, whatever the planner knows of the table. The keys are
   * one array (the selected ones and, from an InitPlan, the aliases' targets) unnested into a
   * nested loop, the lookup kept a parameterised subquery by its {@code OFFSET 0} (not pulled up
   * into a join the planner may hash). A key the array holds twice reads its row twice.
   *
   * <p>Why not {@code deploy_id = ANY (keys)}: the driver runs this as a server-side prepared
   * statement, whose generic plan is costed without parameter values; on a table without fresh
   * statistics (new, or grown since the last ANALYZE) it scanned the site's every deploy with the
   * ANY as a filter, re-evaluating the array for each row, about 0.4 ms of server time per command
   * on a site of 2,000 deploys, growing with the site. An OR of the keys and the aliases' targets
   * reads every deploy of the site as well.
   */
  static String selectedDeploysSql(String schema) {
    return "SELECT d.* FROM unnest(array_cat(CAST(? AS text[]), ARRAY(SELECT deploy_id FROM "
        + schema
        + ".aliases WHERE site = ? AND deploy_id IS NOT NULL))) AS k(deploy_id)"
        + " CROSS JOIN LATERAL (SELECT * FROM "
        + schema
        + ".deploys WHERE site = ? AND deploy_id = k.deploy_id OFFSET 0) d";
  }

  private static String[] ids(List<DeployId> ids) {
    return ids.stream().map(DeployId::value).toArray(String[]::new);
  }

  /** A driver failure inside the work, carried out of it to {@link #inSite}. */
  private static final class SqlFailure extends RuntimeException {
    SqlFailure(SQLException cause) {
      super(cause);
    }
  }

  private static AliasRow aliasRow(ResultSet rs) throws SQLException {
    String target = rs.getString("deploy_id");
    return new AliasRow(
        target == null ? null : DeployId.of(target),
        rs.getLong("version"),
        Sql.instant(rs, "updated_at"));
  }

  private static Tombstone tombstoneRow(ResultSet rs) throws SQLException {
    return new Tombstone(
        Sql.deploy(rs), Sql.instant(rs, "deleted_at"), Sql.instant(rs, "expires_at"));
  }

  private static Site siteRow(ResultSet rs) throws SQLException {
    return new Site(
        SiteId.of(rs.getString("site")),
        new SiteProfile(
            rs.getString("display_name"), rs.getString("owner"), labels(rs.getString("labels"))),
        SiteState.valueOf(rs.getString("state")),
        Sql.instant(rs, "created_at"),
        Sql.instant(rs, "updated_at"),
        Sql.instant(rs, "purge_after"),
        rs.getLong("version"));
  }

  private static String labelsJson(Map<String, String> labels) {
    try {
      return JSON.writeValueAsString(labels);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("a string map always serialises", e);
    }
  }

  private static Map<String, String> labels(String json) {
    try {
      return JSON.readValue(json, LABELS);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(
          "the labels of a site record are not a JSON object of strings: " + e.getOriginalMessage(),
          e);
    }
  }

  /**
   * Runs the work in one transaction of two round trips: the lock with the reads ({@link
   * Tx#begin}), then the writes with the commit ({@link Tx#commit}). The connection is in
   * autocommit (see {@link StoreConnections}), so the transaction is opened and ended by statements
   * of those two round trips, not by the driver in round trips of their own.
   */
  @Override
  public <T> T inSite(String action, SiteId site, RowSelection rows, Function<SiteRows, T> work) {
    guard.requireStartable(action, site, rows);
    String what = action + " on site " + site;
    return Sql.call(
        what,
        () ->
            jdbi.withHandle(
                h -> {
                  Connection c = h.getConnection();
                  try {
                    Tx tx = new Tx(c, site);
                    tx.begin(rows);
                    T result = guard.run(action, site, rows, tx, work);
                    tx.commit();
                    return result;
                  } catch (SQLException | SqlFailure e) {
                    SQLException cause =
                        e instanceof SqlFailure f ? (SQLException) f.getCause() : (SQLException) e;
                    rollback(c, cause);
                    throw Sql.translate(what, cause);
                  } catch (RuntimeException | Error e) {
                    rollback(c, e);
                    throw e;
                  }
                }));
  }

  /**
   * Ends the transaction a work left open (or failed): a ROLLBACK of its own, sent even when none
   * is open (the server then only warns), so no transaction goes back to the pool.
   */
  private static void rollback(Connection c, Throwable failure) {
    try (Statement s = c.createStatement()) {
      s.execute("ROLLBACK");
    } catch (SQLException e) {
      failure.addSuppressed(e);
    }
  }

  private static Optional<Deploy> findDeploy(Handle h, SiteId site, DeployId id) {
    return h.createQuery("SELECT * FROM <schema>.deploys WHERE site = :site AND deploy_id = :id")
        .bind("site", site.value())
        .bind("id", id.value())
        .map((rs, ctx) -> Sql.deploy(rs))
        .findOne();
  }

  private static Optional<Tombstone> findTombstone(Handle h, SiteId site, DeployId id) {
    return h.createQuery("SELECT * FROM <schema>.tombstones WHERE site = :site AND deploy_id = :id")
        .bind("site", site.value())
        .bind("id", id.value())
        .map((rs, ctx) -> tombstoneRow(rs))
        .findOne();
  }

  // ---- queries -----------------------------------------------------------------------------

  private <T> T read(String what, Function<Handle, T> query) {
    return Sql.call(what, () -> jdbi.withHandle(query::apply));
  }

  @Override
  public Optional<Deploy> findDeploy(SiteId site, DeployId id) {
    guard.requireOutside("findDeploy");
    return read("find deploy", h -> findDeploy(h, site, id));
  }

  @Override
  public List<Deploy> listDeploys(SiteId site) {
    guard.requireOutside("listDeploys");
    return read(
        "list deploys",
        h ->
            h.createQuery("SELECT * FROM <schema>.deploys WHERE site = :site ORDER BY deploy_id")
                .bind("site", site.value())
                .map((rs, ctx) -> Sql.deploy(rs))
                .list());
  }

  @Override
  public Optional<Alias> findAlias(SiteId site, AliasName alias) {
    guard.requireOutside("findAlias");
    return read(
        "find alias",
        h ->
            h.createQuery(
                    "SELECT * FROM <schema>.aliases WHERE site = :site AND name = :name"
                        + " AND deploy_id IS NOT NULL")
                .bind("site", site.value())
                .bind("name", alias.value())
                .map((rs, ctx) -> aliasRow(rs).toAlias(site, alias))
                .findOne());
  }

  @Override
  public List<Alias> listAliases(SiteId site) {
    guard.requireOutside("listAliases");
    return read(
        "list aliases",
        h ->
            h.createQuery(
                    "SELECT * FROM <schema>.aliases WHERE site = :site AND deploy_id IS NOT NULL ORDER BY name")
                .bind("site", site.value())
                .map((rs, ctx) -> aliasRow(rs).toAlias(site, AliasName.of(rs.getString("name"))))
                .list());
  }

  @Override
  public Optional<Tombstone> findTombstone(SiteId site, DeployId id) {
    guard.requireOutside("findTombstone");
    return read("find tombstone", h -> findTombstone(h, site, id));
  }

  @Override
  public List<Tombstone> listTombstones(SiteId site) {
    guard.requireOutside("listTombstones");
    return read(
        "list tombstones",
        h ->
            h.createQuery("SELECT * FROM <schema>.tombstones WHERE site = :site ORDER BY deploy_id")
                .bind("site", site.value())
                .map((rs, ctx) -> tombstoneRow(rs))
                .list());
  }

  @Override
  public List<Tombstone> listExpiredTombstones(Instant cutoff, int limit) {
    guard.requireOutside("listExpiredTombstones");
    Objects.requireNonNull(cutoff, "cutoff");
    Inputs.requireRange("limit", limit, 1, 100_000);
    return read(
        "list expired tombstones",
        h ->
            h.createQuery(
                    "SELECT * FROM <schema>.tombstones WHERE expires_at <= :cutoff"
                        + " ORDER BY expires_at, site, deploy_id LIMIT :limit")
                .bind("cutoff", Sql.ts(cutoff))
                .bind("limit", limit)
                .map((rs, ctx) -> tombstoneRow(rs))
                .list());
  }

  @Override
  public List<SiteId> listSites(SiteId after, int limit) {
    guard.requireOutside("listSites");
    Inputs.requireRange("limit", limit, 1, 100_000);
    return read(
        "list sites",
        h ->
            h.createQuery(
                    "SELECT site FROM ("
                        + " SELECT site FROM <schema>.deploys UNION"
                        + " SELECT site FROM <schema>.tombstones UNION"
                        + " SELECT site FROM <schema>.aliases WHERE deploy_id IS NOT NULL) s"
                        + " WHERE :after::text IS NULL OR site > :after ORDER BY site LIMIT :limit")
                .bind("after", after == null ? null : after.value())
                .bind("limit", limit)
                .map((rs, ctx) -> SiteId.of(rs.getString("site")))
                .list());
  }

  @Override
  public Optional<Site> findSite(SiteId site) {
    guard.requireOutside("findSite");
    Objects.requireNonNull(site, "site");
    return read(
        "find site",
        h ->
            h.createQuery("SELECT * FROM <schema>.sites WHERE site = :site")
                .bind("site", site.value())
                .map((rs, ctx) -> siteRow(rs))
                .findOne());
  }

  @Override
  public List<Site> listRegisteredSites(SiteId after, int limit) {
    guard.requireOutside("listRegisteredSites");
    Inputs.requireRange("limit", limit, 1, 100_000);
    return read(
        "list registered sites",
        h ->
            // Every id is greater than '' (COLLATE "C"), so one indexable range serves both cases.
            h.createQuery(
                    "SELECT * FROM <schema>.sites WHERE site > :after ORDER BY site LIMIT :limit")
                .bind("after", after == null ? "" : after.value())
                .bind("limit", limit)
                .map((rs, ctx) -> siteRow(rs))
                .list());
  }

  @Override
  public List<Site> listExpiredSites(Instant cutoff, int limit) {
    guard.requireOutside("listExpiredSites");
    Objects.requireNonNull(cutoff, "cutoff");
    Inputs.requireRange("limit", limit, 1, 100_000);
    return read(
        "list expired sites",
        h ->
            // Served by sites_by_purge_after (partial on state = 'TRASHED').
            h.createQuery(
                    "SELECT * FROM <schema>.sites WHERE state = 'TRASHED' AND purge_after <= :cutoff"
                        + " ORDER BY purge_after, site LIMIT :limit")
                .bind("cutoff", Sql.ts(cutoff))
                .bind("limit", limit)
                .map((rs, ctx) -> siteRow(rs))
                .list());
  }

  @Override
  public List<AuditEntry> auditLog(SiteId site, int limit) {
    guard.requireOutside("auditLog");
    Objects.requireNonNull(site, "site");
    Inputs.requireRange("limit", limit, 1, 100_000);
    return read(
        "read audit log",
        h ->
            h.createQuery(
                    "SELECT * FROM <schema>.audit_log WHERE site = :site ORDER BY id DESC LIMIT :limit")
                .bind("site", site.value())
                .bind("limit", limit)
                .map(
                    (rs, ctx) ->
                        new AuditEntry(
                            rs.getLong("id"),
                            Sql.instant(rs, "at"),
                            Actor.of(rs.getString("actor")),
                            rs.getString("action"),
                            SiteId.of(rs.getString("site")),
                            rs.getString("target"),
                            rs.getString("before"),
                            rs.getString("after")))
                .list());
  }
}
