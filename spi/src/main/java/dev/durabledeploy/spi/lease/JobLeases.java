package dev.durabledeploy.spi.lease;

import dev.durabledeploy.spi.JobKey;
import dev.durabledeploy.spi.health.Health;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * Leases on long-running jobs, so that no job stays "in progress" forever (docs/invariants.md E4):
 * a lease whose owner stops renewing it expires and may be stolen atomically by the next caller.
 * Owners are non-blank strings of at most 200 characters.
 *
 * <p>Time: the stamps a lease carries ({@link Lease#startedAt()}, {@link Lease#expiresAt()}) come
 * from the writing store's injected clock, and that clock decides expiry for the leases this very
 * store instance wrote (so tests can move a mutable clock). Whether another host's lease expired is
 * a matter between hosts whose clocks may disagree: a store shared by several hosts decides it on
 * its server's clock (see each store), so that a host whose clock runs ahead can never take a live
 * lease, and a dead host whose clock ran ahead does not keep its leases longer.
 */
public interface JobLeases {

  /**
   * Acquires the job's lease for {@code owner} until {@code now + ttl}: fresh when there is none,
   * stolen (attempt + 1) when the current one has expired or carries no expiry, renewed when {@code
   * owner} already holds it. Empty when another owner holds a live lease: the job is already
   * running.
   */
  Optional<Lease> tryAcquire(JobKey key, String owner, Duration ttl);

  /**
   * Heartbeat: extends {@code owner}'s lease to {@code now + ttl}. Empty when the lease is gone or
   * held by someone else — the caller lost the job and should stop. An expired lease that nobody
   * stole yet is renewed.
   */
  Optional<Lease> renew(JobKey key, String owner, Duration ttl);

  /** Releases {@code owner}'s lease. False when {@code owner} does not hold it. */
  boolean release(JobKey key, String owner);

  /**
   * Releases {@code lease} only if it is still exactly the lease read: same owner, same expiry,
   * same attempt. A lease renewed or stolen since it was read survives. This is what a sweep uses
   * to free a lease it listed as dead, so that a holder whose heartbeat lands in between keeps its
   * job.
   *
   * <p>The default reads, compares and releases in three calls, so a renewal landing between the
   * read and the release would be lost: every store of the library overrides it with one atomic
   * step, and so should any other store.
   *
   * @return whether the lease was released
   */
  default boolean releaseIfUnchanged(Lease lease) {
    return find(lease.key()).filter(lease::equals).isPresent()
        && release(lease.key(), lease.owner());
  }

  /** The job's current lease, live or expired. */
  Optional<Lease> find(JobKey key);

  /** Up to {@code limit} leases, live or expired, ordered by key. */
  List<Lease> list(int limit);

  /** Up to {@code limit} leases whose expiry has passed, ordered by expiry. */
  List<Lease> listExpired(int limit);

  /**
   * What the job leases report about themselves (see {@link Health}), such as how many leases
   * expired. The plane bounds the call in time. The default lists one lease ({@link #list}): a
   * round trip and nothing more.
   */
  default Health health() {
    list(1);
    return Health.up();
  }
}
