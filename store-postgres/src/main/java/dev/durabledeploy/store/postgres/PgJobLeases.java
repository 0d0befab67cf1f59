package dev.durabledeploy.store.postgres;

import dev.durabledeploy.spi.Inputs;
import dev.durabledeploy.spi.JobKey;
import dev.durabledeploy.spi.health.Health;
import dev.durabledeploy.spi.lease.JobLeases;
import dev.durabledeploy.spi.lease.Lease;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jdbi.v3.core.Jdbi;

/**
 * Job leases as one row per job. Acquire-or-steal is a single upsert whose {@code WHERE} admits the
 * holder itself, an expired lease or one without a stamp: atomic without any lock.
 *
 * <p>Time: a row carries the writer's stamps ({@code started_at}, {@code expires_at}, from the
 * store's clock), the writing store instance ({@code writer}) and its expiry on the database
 * server's clock ({@code server_expires_at}). A lease this store instance wrote expires by the
 * store's clock (tests move it); one another instance wrote expires by the server's clock, so a
 * host whose clock is ahead by any amount can never take a live lease, and a dead host whose clock
 * was ahead does not keep its leases past their real TTL. A row written before these columns
 * existed falls back to the writer's stamp.
 */
final class PgJobLeases implements JobLeases {

  /** Whether row {@code l} has expired, as seen by this store (see the class comment). */
  private static final String EXPIRED =
      "(l.expires_at IS NULL OR CASE WHEN l.writer = :writer OR l.server_expires_at IS NULL"
          + " THEN l.expires_at <= :now ELSE l.server_expires_at <= clock_timestamp() END)";

  private final Jdbi jdbi;
  private final Clock clock;
  private final String writer;

  PgJobLeases(Jdbi jdbi, Clock clock, String writer) {
    this.jdbi = jdbi;
    this.clock = clock;
    this.writer = writer;
  }

  /**
   * How many leases there are and how many of them expired (as {@link #listExpired} judges it); the
   * lease sweep frees the expired ones every five minutes.
   */
  @Override
  public Health health() {
    return Sql.call(
        "health probe",
        () ->
            jdbi.withHandle(
                h ->
                    h.createQuery(
                            "SELECT count(*) AS leases, count(*) FILTER (WHERE "
                                + EXPIRED
                                + ") AS expired FROM <schema>.job_leases l")
                        .bind("writer", writer)
                        .bind("now", Sql.ts(now()))
                        .map(
                            (rs, ctx) ->
                                Health.up(
                                    Map.of(
                                        "leases", rs.getLong("leases"),
                                        "expired", rs.getLong("expired"))))
                        .one()));
  }

  private Instant now() {
    return clock.instant().truncatedTo(ChronoUnit.MICROS);
  }

  private static Lease lease(ResultSet rs) throws SQLException {
    Instant expires = Sql.instant(rs, "expires_at");
    return new Lease(
        JobKey.of(rs.getString("job_key")),
        rs.getString("owner"),
        Sql.instant(rs, "started_at"),
        expires == null ? Instant.EPOCH : expires,
        rs.getInt("attempt"));
  }

  @Override
  public Optional<Lease> tryAcquire(JobKey key, String owner, Duration ttl) {
    check(owner, ttl);
    Instant now = now();
    return Sql.call(
        "lease acquire",
        () ->
            jdbi.withHandle(
                h ->
                    h.createQuery(
                            "INSERT INTO <schema>.job_leases AS l (job_key, owner, started_at,"
                                + "   expires_at, attempt, writer, server_expires_at)"
                                + " VALUES (:key, :owner, :now, :expires, 1, :writer,"
                                + "   clock_timestamp() + :ttl * interval '1 millisecond')"
                                + " ON CONFLICT (job_key) DO UPDATE SET"
                                + "   owner = excluded.owner,"
                                + "   started_at = CASE WHEN l.owner = excluded.owner THEN l.started_at ELSE excluded.started_at END,"
                                + "   expires_at = excluded.expires_at,"
                                + "   attempt = CASE WHEN l.owner = excluded.owner THEN l.attempt ELSE l.attempt + 1 END,"
                                + "   writer = excluded.writer,"
                                + "   server_expires_at = excluded.server_expires_at"
                                + " WHERE l.owner = excluded.owner OR "
                                + EXPIRED
                                + " RETURNING *")
                        .bind("key", key.value())
                        .bind("owner", owner)
                        .bind("now", Sql.ts(now))
                        .bind("expires", Sql.ts(now.plus(ttl)))
                        .bind("writer", writer)
                        .bind("ttl", ttl.toMillis())
                        .map((rs, ctx) -> lease(rs))
                        .findOne()));
  }

  @Override
  public Optional<Lease> renew(JobKey key, String owner, Duration ttl) {
    check(owner, ttl);
    Instant now = now();
    return Sql.call(
        "lease renew",
        () ->
            jdbi.withHandle(
                h ->
                    h.createQuery(
                            "UPDATE <schema>.job_leases SET expires_at = :expires, writer = :writer,"
                                + "   server_expires_at = clock_timestamp() + :ttl * interval '1 millisecond'"
                                + " WHERE job_key = :key AND owner = :owner RETURNING *")
                        .bind("key", key.value())
                        .bind("owner", owner)
                        .bind("expires", Sql.ts(now.plus(ttl)))
                        .bind("writer", writer)
                        .bind("ttl", ttl.toMillis())
                        .map((rs, ctx) -> lease(rs))
                        .findOne()));
  }

  @Override
  public boolean release(JobKey key, String owner) {
    Inputs.requireText("owner", owner, 200);
    return Sql.call(
        "lease release",
        () ->
            jdbi.withHandle(
                    h ->
                        h.createUpdate(
                                "DELETE FROM <schema>.job_leases WHERE job_key = :key AND owner = :owner")
                            .bind("key", key.value())
                            .bind("owner", owner)
                            .execute())
                == 1);
  }

  @Override
  public boolean releaseIfUnchanged(Lease lease) {
    java.util.Objects.requireNonNull(lease, "lease");
    return Sql.call(
        "lease release if unchanged",
        () ->
            jdbi.withHandle(
                    h ->
                        h.createUpdate(
                                "DELETE FROM <schema>.job_leases WHERE job_key = :key"
                                    + " AND owner = :owner AND attempt = :attempt"
                                    + " AND started_at = :started"
                                    + " AND expires_at IS NOT DISTINCT FROM CAST(:expires AS timestamptz)")
                            .bind("key", lease.key().value())
                            .bind("owner", lease.owner())
                            .bind("attempt", lease.attempt())
                            .bind("started", Sql.ts(lease.startedAt()))
                            // A row without a stamp reads as EPOCH.
                            .bind(
                                "expires",
                                lease.expiresAt().equals(Instant.EPOCH)
                                    ? null
                                    : Sql.ts(lease.expiresAt()))
                            .execute())
                == 1);
  }

  @Override
  public Optional<Lease> find(JobKey key) {
    return Sql.call(
        "lease find",
        () ->
            jdbi.withHandle(
                h ->
                    h.createQuery("SELECT * FROM <schema>.job_leases WHERE job_key = :key")
                        .bind("key", key.value())
                        .map((rs, ctx) -> lease(rs))
                        .findOne()));
  }

  @Override
  public List<Lease> list(int limit) {
    Inputs.requireRange("limit", limit, 1, 100_000);
    return Sql.call(
        "lease list",
        () ->
            jdbi.withHandle(
                h ->
                    h.createQuery("SELECT * FROM <schema>.job_leases ORDER BY job_key LIMIT :limit")
                        .bind("limit", limit)
                        .map((rs, ctx) -> lease(rs))
                        .list()));
  }

  @Override
  public List<Lease> listExpired(int limit) {
    Inputs.requireRange("limit", limit, 1, 100_000);
    return Sql.call(
        "lease list expired",
        () ->
            jdbi.withHandle(
                h ->
                    h.createQuery(
                            "SELECT * FROM <schema>.job_leases l WHERE "
                                + EXPIRED
                                + " ORDER BY expires_at NULLS FIRST, job_key LIMIT :limit")
                        .bind("now", Sql.ts(now()))
                        .bind("writer", writer)
                        .bind("limit", limit)
                        .map((rs, ctx) -> lease(rs))
                        .list()));
  }

  private static void check(String owner, Duration ttl) {
    Inputs.requireText("owner", owner, 200);
    Inputs.requirePositive("ttl", ttl);
  }
}
