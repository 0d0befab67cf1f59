package dev.durabledeploy.spi.lease;

import dev.durabledeploy.spi.JobKey;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * Leases on long-running jobs, so that no job stays "in progress" forever (DESIGN.md E4): a lease
 * whose owner stops renewing it expires and may be stolen atomically by the next caller. Times come
 * from the store's injected clock. Owners are non-blank strings of at most 200 characters.
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

  /** The job's current lease, live or expired. */
  Optional<Lease> find(JobKey key);

  /** Up to {@code limit} leases, live or expired, ordered by key. */
  List<Lease> list(int limit);

  /** Up to {@code limit} leases whose expiry has passed, ordered by expiry. */
  List<Lease> listExpired(int limit);
}
