package dev.durabledeploy.store.postgres;

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
import dev.durabledeploy.spi.metadata.SiteRows;
import dev.durabledeploy.spi.metadata.Tombstone;
import dev.durabledeploy.spi.outbox.NewEvent;
import dev.durabledeploy.spi.support.UnitsOfWork;
import java.sql.ResultSet;
import java.sql.SQLException;
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
 * for belt and braces.
 */
final class PgMetadataStore implements MetadataStore {

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

    Tx(Handle h, SiteId site) {
      this.h = h;
      this.site = site;
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

  @Override
  public <T> T inSite(String action, SiteId site, RowSelection rows, Function<SiteRows, T> work) {
    guard.requireStartable(action, site, rows);
    return Sql.call(
        action + " on site " + site,
        () ->
            jdbi.inTransaction(
                h -> {
                  // Lock: the site's metadata lock (transaction-scoped), making this command one
                  // atom against every other command on the site.
                  h.createQuery("SELECT pg_advisory_xact_lock(:key)")
                      .bind("key", Sql.lockKey("meta", schema, site.value()))
                      .mapTo(String.class)
                      .one();
                  Tx tx = new Tx(h, site);
                  T result = guard.run(action, site, rows, tx, work);
                  outbox.insert(h, tx.now, tx.events);
                  return result;
                }));
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
