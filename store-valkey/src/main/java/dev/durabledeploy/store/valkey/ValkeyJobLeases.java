package dev.durabledeploy.store.valkey;

import dev.durabledeploy.spi.Inputs;
import dev.durabledeploy.spi.JobKey;
import dev.durabledeploy.spi.health.Health;
import dev.durabledeploy.spi.lease.JobLeases;
import dev.durabledeploy.spi.lease.Lease;
import io.lettuce.core.Limit;
import io.lettuce.core.Range;
import io.lettuce.core.ScriptOutputType;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Job leases as one hash per job plus three sorted sets (by expiry, by server expiry, by key);
 * acquire-or-steal, renew and release are each one Lua script, so they are atomic without any lock.
 *
 * <p>Time: a lease's stamps are epoch milliseconds from the writing store's clock, and that clock
 * decides expiry for the leases this store instance wrote (tests move it). A lease another store
 * instance wrote expires on the server's clock ({@code TIME}, stamped by the script as {@code
 * srvexp}), so a host whose clock runs ahead by any amount cannot take a live lease, and a dead
 * host whose clock ran ahead does not keep its leases past their real time to live.
 */
final class ValkeyJobLeases implements JobLeases {

  private final Valkey valkey;
  private final Keys keys;
  private final Clock clock;
  private final String writer;

  ValkeyJobLeases(Valkey valkey, Keys keys, Clock clock, String writer) {
    this.valkey = valkey;
    this.keys = keys;
    this.clock = clock;
    this.writer = writer;
  }

  @Override
  public Optional<Lease> tryAcquire(JobKey key, String owner, Duration ttl) {
    check(owner, ttl);
    long now = clock.millis();
    List<Object> row =
        valkey.script(
            "lease-acquire",
            ScriptOutputType.MULTI,
            List.of(
                keys.lease(key),
                keys.leasesByExpiry(),
                keys.leasesByKey(),
                keys.leasesByServerExpiry()),
            List.of(
                key.value(),
                owner,
                Long.toString(now),
                Long.toString(now + ttl.toMillis()),
                writer,
                Long.toString(ttl.toMillis())));
    return lease(key, row);
  }

  @Override
  public Optional<Lease> renew(JobKey key, String owner, Duration ttl) {
    check(owner, ttl);
    long expires = clock.millis() + ttl.toMillis();
    List<Object> row =
        valkey.script(
            "lease-renew",
            ScriptOutputType.MULTI,
            List.of(keys.lease(key), keys.leasesByExpiry(), keys.leasesByServerExpiry()),
            List.of(
                key.value(), owner, Long.toString(expires), writer, Long.toString(ttl.toMillis())));
    return lease(key, row);
  }

  @Override
  public boolean release(JobKey key, String owner) {
    Inputs.requireText("owner", owner, 200);
    Long released =
        valkey.script(
            "lease-release",
            ScriptOutputType.INTEGER,
            List.of(
                keys.lease(key),
                keys.leasesByExpiry(),
                keys.leasesByKey(),
                keys.leasesByServerExpiry()),
            List.of(key.value(), owner));
    return released != null && released == 1;
  }

  @Override
  public boolean releaseIfUnchanged(Lease lease) {
    java.util.Objects.requireNonNull(lease, "lease");
    Long released =
        valkey.script(
            "lease-release",
            ScriptOutputType.INTEGER,
            List.of(
                keys.lease(lease.key()),
                keys.leasesByExpiry(),
                keys.leasesByKey(),
                keys.leasesByServerExpiry()),
            List.of(
                lease.key().value(),
                lease.owner(),
                Long.toString(lease.startedAt().toEpochMilli()),
                Long.toString(lease.expiresAt().toEpochMilli()),
                Integer.toString(lease.attempt())));
    return released != null && released == 1;
  }

  @Override
  public Optional<Lease> find(JobKey key) {
    Map<String, String> hash =
        valkey.call(
            "reading the lease of " + key, () -> valkey.commands().hgetall(keys.lease(key)));
    if (hash == null || hash.isEmpty()) {
      return Optional.empty();
    }
    return Optional.of(lease(key, hash));
  }

  private static Lease lease(JobKey key, Map<String, String> hash) {
    return new Lease(
        key,
        hash.get("owner"),
        Instant.ofEpochMilli(Long.parseLong(hash.get("started"))),
        Instant.ofEpochMilli(Long.parseLong(hash.get("expires"))),
        Integer.parseInt(hash.get("attempt")));
  }

  @Override
  public List<Lease> list(int limit) {
    Inputs.requireRange("limit", limit, 1, 100_000);
    List<String> ids =
        valkey.call(
            "listing leases",
            () ->
                valkey
                    .commands()
                    .zrangebylex(keys.leasesByKey(), Range.unbounded(), Limit.create(0, limit)));
    return load(ids);
  }

  /**
   * Candidates from both expiry indexes, each then judged by the rule in the class comment: a lease
   * this instance wrote by the store's clock, another's by the server's.
   */
  @Override
  public List<Lease> listExpired(int limit) {
    Inputs.requireRange("limit", limit, 1, 100_000);
    long now = clock.millis();
    long serverNow = serverMillis();
    java.util.Set<String> candidates = new java.util.LinkedHashSet<>();
    candidates.addAll(expiringBy(keys.leasesByExpiry(), now, limit));
    candidates.addAll(expiringBy(keys.leasesByServerExpiry(), serverNow, limit));
    List<Lease> expired = new ArrayList<>();
    for (String id : candidates) {
      JobKey key = JobKey.of(id);
      Map<String, String> hash =
          valkey.call(
              "reading the lease of " + key, () -> valkey.commands().hgetall(keys.lease(key)));
      if (hash != null && !hash.isEmpty() && isExpired(hash, now, serverNow)) {
        expired.add(lease(key, hash));
      }
    }
    expired.sort(java.util.Comparator.comparing(Lease::expiresAt).thenComparing(Lease::key));
    return expired.size() > limit ? List.copyOf(expired.subList(0, limit)) : expired;
  }

  private List<String> expiringBy(String index, long until, int limit) {
    return valkey.call(
        "listing expired leases",
        () ->
            valkey
                .commands()
                .zrangebyscore(
                    index,
                    Range.create(Double.NEGATIVE_INFINITY, (double) until),
                    Limit.create(0, limit)));
  }

  private boolean isExpired(Map<String, String> hash, long now, long serverNow) {
    String expires = hash.get("expires");
    if (expires == null || expires.isEmpty()) {
      return true;
    }
    String written = hash.get("srvexp");
    if (writer.equals(hash.get("writer")) || written == null || written.isEmpty()) {
      return Long.parseLong(expires) <= now;
    }
    return Long.parseLong(written) <= serverNow;
  }

  private long serverMillis() {
    List<String> time = valkey.call("reading the server's clock", () -> valkey.commands().time());
    return Long.parseLong(time.get(0)) * 1000 + Long.parseLong(time.get(1)) / 1000;
  }

  private List<Lease> load(List<String> ids) {
    List<Lease> leases = new ArrayList<>(ids.size());
    for (String id : ids) {
      find(JobKey.of(id)).ifPresent(leases::add);
    }
    return leases;
  }

  private static Optional<Lease> lease(JobKey key, List<Object> row) {
    if (row == null || row.isEmpty()) {
      return Optional.empty();
    }
    return Optional.of(
        new Lease(
            key,
            (String) row.get(0),
            Instant.ofEpochMilli(Long.parseLong((String) row.get(1))),
            Instant.ofEpochMilli(Long.parseLong((String) row.get(2))),
            Integer.parseInt((String) row.get(3))));
  }

  private static void check(String owner, Duration ttl) {
    Inputs.requireText("owner", owner, 200);
    Inputs.requirePositive("ttl", ttl);
  }

  /** The server's settings and persistence ({@link ServerHealth}); leases expire anyway. */
  @Override
  public Health health() {
    return ServerHealth.probe(valkey, false);
  }
}
