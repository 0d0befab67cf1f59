package dev.durabledeploy.store.memory;

import dev.durabledeploy.spi.Inputs;
import dev.durabledeploy.spi.JobKey;
import dev.durabledeploy.spi.lease.JobLeases;
import dev.durabledeploy.spi.lease.Lease;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;

/** The reference job leases: one map under one monitor, times from the injected clock. */
final class InMemoryJobLeases implements JobLeases {

  private final Clock clock;
  private final TreeMap<JobKey, Lease> leases = new TreeMap<>();

  InMemoryJobLeases(Clock clock) {
    this.clock = clock;
  }

  @Override
  public synchronized Optional<Lease> tryAcquire(JobKey key, String owner, Duration ttl) {
    check(key, owner, ttl);
    Instant now = clock.instant();
    Lease current = leases.get(key);
    Lease next;
    if (current == null) {
      next = new Lease(key, owner, now, now.plus(ttl), 1);
    } else if (current.owner().equals(owner)) {
      next = new Lease(key, owner, current.startedAt(), now.plus(ttl), current.attempt());
    } else if (current.isExpired(now)) {
      next = new Lease(key, owner, now, now.plus(ttl), current.attempt() + 1);
    } else {
      return Optional.empty();
    }
    leases.put(key, next);
    return Optional.of(next);
  }

  @Override
  public synchronized Optional<Lease> renew(JobKey key, String owner, Duration ttl) {
    check(key, owner, ttl);
    Lease current = leases.get(key);
    if (current == null || !current.owner().equals(owner)) {
      return Optional.empty();
    }
    Lease next =
        new Lease(key, owner, current.startedAt(), clock.instant().plus(ttl), current.attempt());
    leases.put(key, next);
    return Optional.of(next);
  }

  @Override
  public synchronized boolean release(JobKey key, String owner) {
    Objects.requireNonNull(key, "key");
    Inputs.requireText("owner", owner, 200);
    Lease current = leases.get(key);
    if (current == null || !current.owner().equals(owner)) {
      return false;
    }
    leases.remove(key);
    return true;
  }

  @Override
  public synchronized boolean releaseIfUnchanged(Lease lease) {
    Objects.requireNonNull(lease, "lease");
    if (!lease.equals(leases.get(lease.key()))) {
      return false;
    }
    leases.remove(lease.key());
    return true;
  }

  @Override
  public synchronized Optional<Lease> find(JobKey key) {
    return Optional.ofNullable(leases.get(Objects.requireNonNull(key, "key")));
  }

  @Override
  public synchronized List<Lease> list(int limit) {
    Inputs.requireRange("limit", limit, 1, 100_000);
    return leases.values().stream().limit(limit).toList();
  }

  @Override
  public synchronized List<Lease> listExpired(int limit) {
    Inputs.requireRange("limit", limit, 1, 100_000);
    Instant now = clock.instant();
    return leases.values().stream()
        .filter(l -> l.isExpired(now))
        .sorted(Comparator.comparing(Lease::expiresAt).thenComparing(Lease::key))
        .limit(limit)
        .toList();
  }

  private static void check(JobKey key, String owner, Duration ttl) {
    Objects.requireNonNull(key, "key");
    Inputs.requireText("owner", owner, 200);
    Inputs.requirePositive("ttl", ttl);
  }
}
