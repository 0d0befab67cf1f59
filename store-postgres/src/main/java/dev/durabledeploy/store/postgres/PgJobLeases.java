package dev.durabledeploy.store.postgres;

import dev.durabledeploy.spi.Inputs;
import dev.durabledeploy.spi.JobKey;
import dev.durabledeploy.spi.lease.JobLeases;
import dev.durabledeploy.spi.lease.Lease;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Optional;
import org.jdbi.v3.core.Jdbi;

/**
 * Job leases as one row per job. Acquire-or-steal is a single upsert whose {@code WHERE} admits the
 * holder itself, an expired lease or one without a stamp: atomic without any lock.
 */
final class PgJobLeases implements JobLeases {

  private final Jdbi jdbi;
  private final Clock clock;

  PgJobLeases(Jdbi jdbi, Clock clock) {
    this.jdbi = jdbi;
    this.clock = clock;
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
                            "INSERT INTO <schema>.job_leases AS l (job_key, owner, started_at, expires_at, attempt)"
                                + " VALUES (:key, :owner, :now, :expires, 1)"
                                + " ON CONFLICT (job_key) DO UPDATE SET"
                                + "   owner = excluded.owner,"
                                + "   started_at = CASE WHEN l.owner = excluded.owner THEN l.started_at ELSE excluded.started_at END,"
                                + "   expires_at = excluded.expires_at,"
                                + "   attempt = CASE WHEN l.owner = excluded.owner THEN l.attempt ELSE l.attempt + 1 END"
                                + " WHERE l.owner = excluded.owner OR l.expires_at IS NULL OR l.expires_at <= :now"
                                + " RETURNING *")
                        .bind("key", key.value())
                        .bind("owner", owner)
                        .bind("now", Sql.ts(now))
                        .bind("expires", Sql.ts(now.plus(ttl)))
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
                            "UPDATE <schema>.job_leases SET expires_at = :expires"
                                + " WHERE job_key = :key AND owner = :owner RETURNING *")
                        .bind("key", key.value())
                        .bind("owner", owner)
                        .bind("expires", Sql.ts(now.plus(ttl)))
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
                            "SELECT * FROM <schema>.job_leases WHERE expires_at IS NULL OR expires_at <= :now"
                                + " ORDER BY expires_at NULLS FIRST, job_key LIMIT :limit")
                        .bind("now", Sql.ts(now()))
                        .bind("limit", limit)
                        .map((rs, ctx) -> lease(rs))
                        .list()));
  }

  private static void check(String owner, Duration ttl) {
    Inputs.requireText("owner", owner, 200);
    Inputs.requirePositive("ttl", ttl);
  }
}
