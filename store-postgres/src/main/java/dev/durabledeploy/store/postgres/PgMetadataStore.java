package dev.durabledeploy.store.postgres;

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
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Function;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;

/**
 * The deploy index on PostgreSQL. Each command is one transaction that first takes a
 * transaction-scoped advisory lock on its site (key space {@code meta}, distinct from the saga's
 * site lock), so a command's reads, checks and writes — and its outbox events and audit entry —
 * form one atom exactly like a Lua script on Valkey. Alias CAS is then a plain comparison of the
 * locked row, written with {@code UPDATE ... WHERE version = :expected} for belt and braces.
 */
final class PgMetadataStore implements MetadataStore {

  private final Jdbi jdbi;
  private final PgOutbox outbox;
  private final String schema;

  PgMetadataStore(Jdbi jdbi, PgOutbox outbox, String schema) {
    this.jdbi = jdbi;
    this.outbox = outbox;
    this.schema = schema;
  }

  private final class Tx {
    final Handle h;
    final Instant now = outbox.now();
    final List<NewEvent> events = new ArrayList<>();

    Tx(Handle h) {
      this.h = h;
    }

    void audit(
        Actor actor, String action, SiteId site, String target, String before, String after) {
      h.createUpdate(
              "INSERT INTO <schema>.audit_log (at, actor, action, site, target, before, after)"
                  + " VALUES (:at, :actor, :action, :site, :target, :before, :after)")
          .bind("at", Sql.ts(now))
          .bind("actor", actor.value())
          .bind("action", action)
          .bind("site", site.value())
          .bind("target", target)
          .bind("before", before)
          .bind("after", after)
          .execute();
    }

    void emit(NewEvent event) {
      events.add(event);
    }

    Optional<Deploy> deploy(SiteId site, DeployId id) {
      return h.createQuery("SELECT * FROM <schema>.deploys WHERE site = :site AND deploy_id = :id")
          .bind("site", site.value())
          .bind("id", id.value())
          .map((rs, ctx) -> Sql.deploy(rs))
          .findOne();
    }

    Optional<Tombstone> tombstone(SiteId site, DeployId id) {
      return h.createQuery(
              "SELECT * FROM <schema>.tombstones WHERE site = :site AND deploy_id = :id")
          .bind("site", site.value())
          .bind("id", id.value())
          .map((rs, ctx) -> tombstoneRow(rs))
          .findOne();
    }

    Optional<AliasRow> alias(SiteId site, AliasName name) {
      return h.createQuery("SELECT * FROM <schema>.aliases WHERE site = :site AND name = :name")
          .bind("site", site.value())
          .bind("name", name.value())
          .map((rs, ctx) -> aliasRow(rs))
          .findOne();
    }

    void insertDeploy(Deploy d) {
      h.createUpdate(
              "INSERT INTO <schema>.deploys (site, deploy_id, sha, state, created_at, finalized_at, released_at)"
                  + " VALUES (:site, :id, :sha, :state, :created, :finalized, :released)")
          .bind("site", d.site().value())
          .bind("id", d.id().value())
          .bind("sha", d.sha())
          .bind("state", d.state().name())
          .bind("created", Sql.ts(d.createdAt()))
          .bind("finalized", Sql.ts(d.finalizedAt()))
          .bind("released", Sql.ts(d.releasedAt()))
          .execute();
    }
  }

  /** An alias row; a deleted alias has a null target and keeps its version. */
  private record AliasRow(
      SiteId site, AliasName name, DeployId target, long version, Instant updatedAt) {
    Alias live() {
      return target == null ? null : new Alias(site, name, target, version, updatedAt);
    }

    long visibleVersion() {
      return target == null ? 0 : version;
    }
  }

  private static AliasRow aliasRow(ResultSet rs) throws SQLException {
    String target = rs.getString("deploy_id");
    return new AliasRow(
        SiteId.of(rs.getString("site")),
        AliasName.of(rs.getString("name")),
        target == null ? null : DeployId.of(target),
        rs.getLong("version"),
        Sql.instant(rs, "updated_at"));
  }

  private static Tombstone tombstoneRow(ResultSet rs) throws SQLException {
    return new Tombstone(
        Sql.deploy(rs), Sql.instant(rs, "deleted_at"), Sql.instant(rs, "expires_at"));
  }

  private <T> T command(String what, SiteId site, Function<Tx, T> body) {
    return Sql.call(
        what,
        () ->
            jdbi.inTransaction(
                h -> {
                  // Lock: the site's metadata lock (transaction-scoped), making this command one
                  // atom against every other command on the site.
                  h.createQuery("SELECT pg_advisory_xact_lock(:key)")
                      .bind("key", Sql.lockKey("meta", schema, site.value()))
                      .mapTo(String.class)
                      .one();
                  Tx tx = new Tx(h);
                  T result = body.apply(tx);
                  outbox.insert(h, tx.now, tx.events);
                  return result;
                }));
  }

  private static void checkExpectation(
      SiteId site, AliasName name, AliasRow row, AliasExpectation expect) {
    long version = row == null ? 0 : row.visibleVersion();
    DeployId current = row == null ? null : row.target();
    if (!expect.matches(version, current)) {
      throw new AliasDriftException(site, name, row == null ? null : row.live(), expect);
    }
  }

  /** Moves (or, with a null target, deletes) an alias and releases its previous target. */
  private AliasRow move(
      Tx tx, SiteId site, AliasName name, DeployId target, AliasExpectation expect) {
    AliasRow row = tx.alias(site, name).orElse(null);
    checkExpectation(site, name, row, expect);
    DeployId previous = row == null ? null : row.target();
    long version = (row == null ? 0 : row.version()) + 1;
    if (row == null) {
      tx.h
          .createUpdate(
              "INSERT INTO <schema>.aliases (site, name, deploy_id, version, updated_at)"
                  + " VALUES (:site, :name, :target, :version, :now)")
          .bind("site", site.value())
          .bind("name", name.value())
          .bind("target", target == null ? null : target.value())
          .bind("version", version)
          .bind("now", Sql.ts(tx.now))
          .execute();
    } else {
      int updated =
          tx.h
              .createUpdate(
                  "UPDATE <schema>.aliases SET deploy_id = :target, version = :version, updated_at = :now"
                      + " WHERE site = :site AND name = :name AND version = :expected")
              .bind("site", site.value())
              .bind("name", name.value())
              .bind("target", target == null ? null : target.value())
              .bind("version", version)
              .bind("expected", row.version())
              .bind("now", Sql.ts(tx.now))
              .execute();
      if (updated != 1) {
        throw new IllegalStateException("alias row changed under the site's metadata lock");
      }
    }
    if (previous != null && !previous.equals(target)) {
      tx.h
          .createUpdate(
              "UPDATE <schema>.deploys SET released_at = :now WHERE site = :site AND deploy_id = :id")
          .bind("now", Sql.ts(tx.now))
          .bind("site", site.value())
          .bind("id", previous.value())
          .execute();
    }
    tx.emit(StandardEvents.aliasChanged(site, name, target, version, previous));
    return new AliasRow(site, name, target, version, tx.now);
  }

  @Override
  public Deploy createPending(SiteId site, DeployId id, String sha, Actor actor) {
    requireArgs(site, id, actor);
    if (sha != null) {
      DeployId.requireSha(sha);
    }
    return command(
        "create deploy",
        site,
        tx -> {
          Optional<Tombstone> deleted = tx.tombstone(site, id);
          if (deleted.isPresent()) {
            throw new DeployStateException(
                site, id, deleted.get().deploy().state(), "it was deleted");
          }
          Optional<Deploy> existing = tx.deploy(site, id);
          if (existing.isPresent()) {
            if (Objects.equals(existing.get().sha(), sha)) {
              return existing.get();
            }
            throw new DeployStateException(
                site, id, existing.get().state(), "it already exists with another sha");
          }
          Deploy created = new Deploy(site, id, sha, DeployState.PENDING, tx.now, null, null);
          tx.insertDeploy(created);
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
        "activate deploy",
        site,
        tx -> {
          Deploy deploy =
              tx.deploy(site, id).orElseThrow(() -> new DeployNotFoundException(site, id));
          AliasRow row = tx.alias(site, alias).orElse(null);
          if (deploy.isActive()) {
            if (row != null && id.equals(row.target())) {
              return row.live();
            }
            throw new DeployStateException(
                site,
                id,
                DeployState.ACTIVE,
                "it is already finalized; move alias '" + alias + "' to it instead");
          }
          DeployId previous = row == null ? null : row.target();
          AliasRow moved = move(tx, site, alias, id, expect);
          tx.h
              .createUpdate(
                  "UPDATE <schema>.deploys SET state = 'ACTIVE', finalized_at = :now, released_at = NULL"
                      + " WHERE site = :site AND deploy_id = :id")
              .bind("now", Sql.ts(tx.now))
              .bind("site", site.value())
              .bind("id", id.value())
              .execute();
          tx.audit(
              actor,
              ACTION_ACTIVATE,
              site,
              id.value(),
              previous == null ? null : previous.value(),
              alias.value());
          tx.emit(StandardEvents.siteChanged(site, ACTION_ACTIVATE));
          return moved.live();
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
        "adopt deploy",
        site,
        tx -> {
          if (tx.deploy(site, id).isPresent() || tx.tombstone(site, id).isPresent()) {
            return Optional.empty();
          }
          Deploy adopted =
              new Deploy(
                  site,
                  id,
                  sha,
                  DeployState.ACTIVE,
                  id.createdAt(),
                  finalizedAt.truncatedTo(java.time.temporal.ChronoUnit.MICROS),
                  null);
          tx.insertDeploy(adopted);
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
        "move alias",
        site,
        tx -> {
          Deploy deploy =
              tx.deploy(site, target).orElseThrow(() -> new DeployNotFoundException(site, target));
          if (!deploy.isActive()) {
            throw new DeployStateException(
                site, target, deploy.state(), "only finalized deploys can be aliased");
          }
          AliasRow row = tx.alias(site, alias).orElse(null);
          checkExpectation(site, alias, row, expect);
          if (row != null && target.equals(row.target())) {
            return row.live();
          }
          DeployId previous = row == null ? null : row.target();
          AliasRow moved = move(tx, site, alias, target, expect);
          tx.audit(
              actor,
              ACTION_ALIAS_MOVE,
              site,
              "alias:" + alias.value(),
              previous == null ? null : previous.value(),
              target.value());
          tx.emit(StandardEvents.siteChanged(site, ACTION_ALIAS_MOVE));
          return moved.live();
        });
  }

  @Override
  public boolean deleteAlias(SiteId site, AliasName alias, AliasExpectation expect, Actor actor) {
    Objects.requireNonNull(site, "site");
    Objects.requireNonNull(alias, "alias");
    Objects.requireNonNull(expect, "expect");
    Objects.requireNonNull(actor, "actor");
    return command(
        "delete alias",
        site,
        tx -> {
          AliasRow row = tx.alias(site, alias).orElse(null);
          if (row == null || row.target() == null) {
            return false;
          }
          move(tx, site, alias, null, expect);
          tx.audit(
              actor,
              ACTION_ALIAS_DELETE,
              site,
              "alias:" + alias.value(),
              row.target().value(),
              null);
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
        "tombstone deploy",
        site,
        tx -> {
          Optional<Tombstone> existing = tx.tombstone(site, id);
          if (existing.isPresent()) {
            return existing.get();
          }
          Deploy deploy =
              tx.deploy(site, id).orElseThrow(() -> new DeployNotFoundException(site, id));
          List<AliasName> aliased =
              tx.h
                  .createQuery(
                      "SELECT name FROM <schema>.aliases WHERE site = :site AND deploy_id = :id ORDER BY name")
                  .bind("site", site.value())
                  .bind("id", id.value())
                  .map((rs, ctx) -> AliasName.of(rs.getString("name")))
                  .list();
          if (!aliased.isEmpty()) {
            throw new DeployAliasedException(site, id, aliased);
          }
          Tombstone tombstone = new Tombstone(deploy, tx.now, tx.now.plus(recoveryWindow));
          tx.h
              .createUpdate("DELETE FROM <schema>.deploys WHERE site = :site AND deploy_id = :id")
              .bind("site", site.value())
              .bind("id", id.value())
              .execute();
          tx.h
              .createUpdate(
                  "INSERT INTO <schema>.tombstones (site, deploy_id, sha, state, created_at, finalized_at,"
                      + " released_at, deleted_at, expires_at) VALUES (:site, :id, :sha, :state, :created,"
                      + " :finalized, :released, :deleted, :expires)")
              .bind("site", site.value())
              .bind("id", id.value())
              .bind("sha", deploy.sha())
              .bind("state", deploy.state().name())
              .bind("created", Sql.ts(deploy.createdAt()))
              .bind("finalized", Sql.ts(deploy.finalizedAt()))
              .bind("released", Sql.ts(deploy.releasedAt()))
              .bind("deleted", Sql.ts(tombstone.deletedAt()))
              .bind("expires", Sql.ts(tombstone.expiresAt()))
              .execute();
          tx.audit(
              actor,
              ACTION_TOMBSTONE,
              site,
              id.value(),
              deploy.state().name().toLowerCase(Locale.ROOT),
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
        "restore deploy",
        site,
        tx -> {
          Optional<Tombstone> found = tx.tombstone(site, id);
          if (found.isEmpty()) {
            return tx.deploy(site, id).orElseThrow(() -> new DeployNotFoundException(site, id));
          }
          Tombstone tombstone = found.get();
          if (tombstone.isExpired(tx.now)) {
            throw new TombstoneExpiredException(site, id, tombstone.expiresAt());
          }
          tx.h
              .createUpdate(
                  "DELETE FROM <schema>.tombstones WHERE site = :site AND deploy_id = :id")
              .bind("site", site.value())
              .bind("id", id.value())
              .execute();
          tx.insertDeploy(tombstone.deploy());
          tx.audit(
              actor,
              ACTION_RESTORE,
              site,
              id.value(),
              "tombstone",
              tombstone.deploy().state().name().toLowerCase(Locale.ROOT));
          tx.emit(StandardEvents.deployEvent(StandardEvents.DEPLOY_RESTORED, site, id));
          tx.emit(StandardEvents.siteChanged(site, ACTION_RESTORE));
          return tombstone.deploy();
        });
  }

  @Override
  public boolean purgeTombstone(SiteId site, DeployId id, Actor actor) {
    requireArgs(site, id, actor);
    return command(
        "purge tombstone",
        site,
        tx -> {
          int removed =
              tx.h
                  .createUpdate(
                      "DELETE FROM <schema>.tombstones WHERE site = :site AND deploy_id = :id")
                  .bind("site", site.value())
                  .bind("id", id.value())
                  .execute();
          if (removed == 0) {
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
        "delete site",
        site,
        tx -> {
          int deploys = delete(tx, "DELETE FROM <schema>.deploys WHERE site = :site", site);
          int liveAliases =
              tx.h
                  .createQuery(
                      "SELECT count(*) FROM <schema>.aliases WHERE site = :site AND deploy_id IS NOT NULL")
                  .bind("site", site.value())
                  .mapTo(Integer.class)
                  .one();
          delete(tx, "DELETE FROM <schema>.aliases WHERE site = :site", site);
          int tombstones = delete(tx, "DELETE FROM <schema>.tombstones WHERE site = :site", site);
          SiteDeletion deletion = new SiteDeletion(deploys, liveAliases, tombstones);
          if (deletion.removedAnything()) {
            tx.audit(actor, ACTION_DELETE_SITE, site, site.value(), deletion.toString(), null);
            tx.emit(StandardEvents.siteDeleted(site));
          }
          return deletion;
        });
  }

  private static int delete(Tx tx, String sql, SiteId site) {
    return tx.h.createUpdate(sql).bind("site", site.value()).execute();
  }

  // ---- queries -----------------------------------------------------------------------------

  private <T> T read(String what, Function<Handle, T> query) {
    return Sql.call(what, () -> jdbi.withHandle(query::apply));
  }

  @Override
  public Optional<Deploy> findDeploy(SiteId site, DeployId id) {
    return read("find deploy", h -> new Tx(h).deploy(site, id));
  }

  @Override
  public List<Deploy> listDeploys(SiteId site) {
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
    return read("find alias", h -> new Tx(h).alias(site, alias).map(AliasRow::live));
  }

  @Override
  public List<Alias> listAliases(SiteId site) {
    return read(
        "list aliases",
        h ->
            h.createQuery(
                    "SELECT * FROM <schema>.aliases WHERE site = :site AND deploy_id IS NOT NULL ORDER BY name")
                .bind("site", site.value())
                .map((rs, ctx) -> aliasRow(rs).live())
                .list());
  }

  @Override
  public Optional<Tombstone> findTombstone(SiteId site, DeployId id) {
    return read("find tombstone", h -> new Tx(h).tombstone(site, id));
  }

  @Override
  public List<Tombstone> listTombstones(SiteId site) {
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

  private static void requireArgs(SiteId site, DeployId id, Actor actor) {
    Objects.requireNonNull(site, "site");
    Objects.requireNonNull(id, "deployId");
    Objects.requireNonNull(actor, "actor");
  }
}
