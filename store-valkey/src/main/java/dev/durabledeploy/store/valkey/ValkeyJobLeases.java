package dev.durabledeploy.store.valkey;

import dev.durabledeploy.spi.Inputs;
import dev.durabledeploy.spi.JobKey;
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
 * Job leases as one hash per job plus two sorted sets (by expiry, by key); acquire-or-steal, renew
 * and release are each one Lua script, so they are atomic without any lock. Times are epoch
 * milliseconds from the store's clock, not the server's, like every other store.
 */
final class ValkeyJobLeases implements JobLeases {

  private final Valkey valkey;
  private final Keys keys;
  private final Clock clock;

  ValkeyJobLeases(Valkey valkey, Keys keys, Clock clock) {
    this.valkey = valkey;
    this.keys = keys;
    this.clock = clock;
  }

  @Override
  public Optional<Lease> tryAcquire(JobKey key, String owner, Duration ttl) {
    check(owner, ttl);
    long now = clock.millis();
    List<Object> row =
        valkey.script(
            "lease-acquire",
            ScriptOutputType.MULTI,
            List.of(keys.lease(key), keys.leasesByExpiry(), keys.leasesByKey()),
            List.of(key.value(), owner, Long.toString(now), Long.toString(now + ttl.toMillis())));
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
            List.of(keys.lease(key), keys.leasesByExpiry()),
            List.of(key.value(), owner, Long.toString(expires)));
    return lease(key, row);
  }

  @Override
  public boolean release(JobKey key, String owner) {
    Inputs.requireText("owner", owner, 200);
    Long released =
        valkey.script(
            "lease-release",
            ScriptOutputType.INTEGER,
            List.of(keys.lease(key), keys.leasesByExpiry(), keys.leasesByKey()),
            List.of(key.value(), owner));
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
    return Optional.of(
        new Lease(
            key,
            hash.get("owner"),
            Instant.ofEpochMilli(Long.parseLong(hash.get("started"))),
            Instant.ofEpochMilli(Long.parseLong(hash.get("expires"))),
            Integer.parseInt(hash.get("attempt"))));
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

  @Override
  public List<Lease> listExpired(int limit) {
    Inputs.requireRange("limit", limit, 1, 100_000);
    long now = clock.millis();
    List<String> ids =
        valkey.call(
            "listing expired leases",
            () ->
                valkey
                    .commands()
                    .zrangebyscore(
                        keys.leasesByExpiry(),
                        Range.create(Double.NEGATIVE_INFINITY, (double) now),
                        Limit.create(0, limit)));
    return load(ids);
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
}
