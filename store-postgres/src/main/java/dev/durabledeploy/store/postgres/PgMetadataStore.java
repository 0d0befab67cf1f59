package dev.durabledeploy.store.postgres;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
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
import dev.durabledeploy.spi.metadata.SiteProfile;
import dev.durabledeploy.spi.metadata.SiteRows;
import dev.durabledeploy.spi.metadata.SiteState;
import dev.durabledeploy.spi.metadata.Tombstone;
import dev.durabledeploy.spi.outbox.NewEvent;
import dev.durabledeploy.spi.support.UnitsOfWork;
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
 */
final class PgMetadataStore implements MetadataStore {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final TypeReference<TreeMap<String, String>> LABELS = new TypeReference<>() {};

  private final UnitsOfWork guard = new UnitsOfWork("PostgreSQL metadata store");

  private final Jdbi jdbi;
  private final PgOutbox outbox;
  private final String schema;

  PgMetadataStore(Jdbi jdbi, PgOutbox outbox, String schema) {
    this.jdbi = jdbi;
    this.outbox = outbox;
    this.schema = schema;
  }

  /** One command's rows, read and written on its transaction's handle. */
  private final class Tx implements SiteRows {
    final Handle h;
    final SiteId site;
    final Instant now = outbox.now();
    final List<NewEvent> events = new ArrayList<>();
    private Map<AliasName, AliasRow> aliases;

    /** The site's record as the work sees it: read at the start, then as the work put it. */
    private Site record;

    /** Whether {@link #record} may differ from the table's row, to be written by {@link #flush}. */
    private boolean recordChanged;

    Tx(Handle h, SiteId site, Site record) {
      this.h = h;
      this.site = site;
      this.record = record;
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
      return findDeploy(h, site, id).orElse(null);
    }

    @Override
    public Tombstone tombstone(DeployId id) {
      return findTombstone(h, site, id).orElse(null);
    }

    @Override
    public Map<AliasName, AliasRow> aliases() {
      if (aliases == null) {
        aliases = new TreeMap<>();
        h.createQuery("SELECT * FROM <schema>.aliases WHERE site = :site")
            .bind("site", site.value())
            .map((rs, ctx) -> Map.entry(AliasName.of(rs.getString("name")), aliasRow(rs)))
            .forEach(row -> aliases.put(row.getKey(), row.getValue()));
      }
      return Collections.unmodifiableMap(aliases);
    }

    @Override
    public int deployCount() {
      return count("SELECT count(*) FROM <schema>.deploys WHERE site = :site");
    }

    @Override
    public int tombstoneCount() {
      return count("SELECT count(*) FROM <schema>.tombstones WHERE site = :site");
    }

    private int count(String sql) {
      return h.createQuery(sql).bind("site", site.value()).mapTo(Integer.class).one();
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
     * Writes the record the work left, once, however many times it put or removed it (a purge
     * removes everything and puts the PURGING record back in one work).
     */
    void flush() {
      if (!recordChanged) {
        return;
      }
      if (record == null) {
        h.createUpdate("DELETE FROM <schema>.sites WHERE site = :site")
            .bind("site", site.value())
            .execute();
        return;
      }
      SiteProfile profile = record.profile();
      h.createUpdate(
              "INSERT INTO <schema>.sites (site, display_name, owner, labels, state, created_at,"
                  + " updated_at, purge_after, version) VALUES (:site, :name, :owner,"
                  + " CAST(:labels AS jsonb), :state, :created, :updated, :purgeAfter, :version)"
                  + " ON CONFLICT (site) DO UPDATE SET display_name = EXCLUDED.display_name,"
                  + " owner = EXCLUDED.owner, labels = EXCLUDED.labels, state = EXCLUDED.state,"
                  + " created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at,"
                  + " purge_after = EXCLUDED.purge_after, version = EXCLUDED.version")
          .bind("site", site.value())
          .bind("name", profile.displayName())
          .bind("owner", profile.owner())
          .bind("labels", labelsJson(profile.labels()))
          .bind("state", record.state().name())
          .bind("created", Sql.ts(record.createdAt()))
          .bind("updated", Sql.ts(record.updatedAt()))
          .bind("purgeAfter", Sql.ts(record.purgeAfter()))
          .bind("version", record.version())
          .execute();
    }

    @Override
    public void putDeploy(Deploy d) {
      h.createUpdate(
              "INSERT INTO <schema>.deploys (site, deploy_id, sha, state, created_at, finalized_at, released_at,"
                  + " restored_at) VALUES (:site, :id, :sha, :state, :created, :finalized, :released,"
                  + " :restored) ON CONFLICT (site, deploy_id) DO UPDATE SET sha = EXCLUDED.sha,"
                  + " state = EXCLUDED.state, created_at = EXCLUDED.created_at,"
                  + " finalized_at = EXCLUDED.finalized_at, released_at = EXCLUDED.released_at,"
                  + " restored_at = EXCLUDED.restored_at")
          .bindMap(columns(d))
          .execute();
    }

    /** The bindings of a deploy row, shared by the deploys and tombstones tables. */
    private Map<String, Object> columns(Deploy d) {
      Map<String, Object> columns = new java.util.HashMap<>();
      columns.put("site", site.value());
      columns.put("id", d.id().value());
      columns.put("sha", d.sha());
      columns.put("state", d.state().name());
      columns.put("created", Sql.ts(d.createdAt()));
      columns.put("finalized", Sql.ts(d.finalizedAt()));
      columns.put("released", Sql.ts(d.releasedAt()));
      columns.put("restored", Sql.ts(d.restoredAt()));
      return columns;
    }

    @Override
    public void removeDeploy(DeployId id) {
      delete("DELETE FROM <schema>.deploys WHERE site = :site AND deploy_id = :id", id);
    }

    @Override
    public void putAlias(AliasName name, AliasRow row) {
      AliasRow read = aliases().get(name);
      String target = row.target() == null ? null : row.target().value();
      if (read == null) {
        h.createUpdate(
                "INSERT INTO <schema>.aliases (site, name, deploy_id, version, updated_at)"
                    + " VALUES (:site, :name, :target, :version, :now)")
            .bind("site", site.value())
            .bind("name", name.value())
            .bind("target", target)
            .bind("version", row.version())
            .bind("now", Sql.ts(row.updatedAt()))
            .execute();
      } else {
        int updated =
            h.createUpdate(
                    "UPDATE <schema>.aliases SET deploy_id = :target, version = :version, updated_at = :now"
                        + " WHERE site = :site AND name = :name AND version = :expected")
                .bind("site", site.value())
                .bind("name", name.value())
                .bind("target", target)
                .bind("version", row.version())
                .bind("expected", read.version())
                .bind("now", Sql.ts(row.updatedAt()))
                .execute();
        if (updated != 1) {
          throw new IllegalStateException("alias row changed under the site's metadata lock");
        }
      }
      aliases.put(name, row);
    }

    @Override
    public void putTombstone(Tombstone t) {
      h.createUpdate(
              "INSERT INTO <schema>.tombstones (site, deploy_id, sha, state, created_at, finalized_at,"
                  + " released_at, restored_at, deleted_at, expires_at) VALUES (:site, :id, :sha, :state,"
                  + " :created, :finalized, :released, :restored, :deleted, :expires)"
                  + " ON CONFLICT (site, deploy_id) DO UPDATE SET sha = EXCLUDED.sha,"
                  + " state = EXCLUDED.state, created_at = EXCLUDED.created_at,"
                  + " finalized_at = EXCLUDED.finalized_at, released_at = EXCLUDED.released_at,"
                  + " restored_at = EXCLUDED.restored_at, deleted_at = EXCLUDED.deleted_at,"
                  + " expires_at = EXCLUDED.expires_at")
          .bindMap(columns(t.deploy()))
          .bind("deleted", Sql.ts(t.deletedAt()))
          .bind("expires", Sql.ts(t.expiresAt()))
          .execute();
    }

    @Override
    public void removeTombstone(DeployId id) {
      delete("DELETE FROM <schema>.tombstones WHERE site = :site AND deploy_id = :id", id);
    }

    private void delete(String sql, DeployId id) {
      h.createUpdate(sql).bind("site", site.value()).bind("id", id.value()).execute();
    }

    @Override
    public void removeAll() {
      for (String table : List.of("deploys", "aliases", "tombstones")) {
        h.createUpdate("DELETE FROM <schema>." + table + " WHERE site = :site")
            .bind("site", site.value())
            .execute();
      }
      aliases = new TreeMap<>();
      if (record != null) {
        recordChanged = true;
      }
      record = null;
    }

    @Override
    public void audit(Actor actor, String action, String target, String before, String after) {
      h.createUpdate(
              "INSERT INTO <schema>.audit_log (at, actor, action, site, target, before, after)"
                  + " VALUES (:at, :actor, :action, :site, :target, :before, :after)")
          .bind("at", Sql.ts(now))
          // PostgreSQL text cannot hold NUL; the other stores keep it, this one a space.
          .bind("actor", Sql.clean(actor.value()))
          .bind("action", Sql.clean(action))
          .bind("site", site.value())
          .bind("target", Sql.clean(target))
          .bind("before", Sql.clean(before))
          .bind("after", Sql.clean(after))
          .execute();
    }

    @Override
    public void emit(NewEvent event) {
      events.add(event);
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

  @Override
  public <T> T inSite(String action, SiteId site, RowSelection rows, Function<SiteRows, T> work) {
    guard.requireStartable(action, site, rows);
    return Sql.call(
        action + " on site " + site,
        () ->
            jdbi.inTransaction(
                h -> {
                  Tx tx = new Tx(h, site, lockAndReadRecord(h, site));
                  T result = guard.run(action, site, rows, tx, work);
                  tx.flush();
                  outbox.insert(h, tx.now, tx.events);
                  return result;
                }));
  }

  /**
   * Takes the site's metadata lock and reads its registry record, in one round trip.
   *
   * <p>Lock: the site's metadata lock (transaction-scoped), making this command one atom against
   * every other command on the site.
   *
   * <p>Two statements, not one: under READ COMMITTED a statement sees what was committed when it
   * started, so a read joined to the lock call could miss a record committed while it waited for
   * the lock. pgjdbc sends both statements of the one prepared statement before it waits for
   * either, so the second costs no extra round trip.
   */
  private Site lockAndReadRecord(Handle h, SiteId site) {
    return h.createQuery(
            "SELECT pg_advisory_xact_lock(:key);"
                + " SELECT * FROM <schema>.sites WHERE site = :site")
        .bind("key", Sql.lockKey("meta", schema, site.value()))
        .bind("site", site.value())
        .scanResultSet(
            (results, ctx) -> {
              Statement statement = results.get().getStatement();
              if (!statement.getMoreResults()) {
                throw new IllegalStateException(
                    "the driver returned no result for the site record's read; check that the"
                        + " PostgreSQL JDBC driver runs multi-statement queries");
              }
              try (ResultSet rs = statement.getResultSet()) {
                return rs.next() ? siteRow(rs) : null;
              }
            });
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
