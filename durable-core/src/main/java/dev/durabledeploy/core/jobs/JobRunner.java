package dev.durabledeploy.core.jobs;

import dev.durabledeploy.spi.JobKey;
import dev.durabledeploy.spi.exception.DurableDeployException;
import dev.durabledeploy.spi.exception.TransientStoreException;
import dev.durabledeploy.spi.lease.JobLeases;
import dev.durabledeploy.spi.lease.Lease;
import dev.durabledeploy.spi.support.Threads;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs long jobs (clone, index, rebuild) so that none runs twice at once and none stays "in
 * progress" forever (docs/invariants.md E4): the job holds a lease, acquired or stolen when the
 * previous holder stopped renewing it, renewed by a heartbeat every third of its TTL, and released
 * when the job ends. A second caller while a live lease exists is told "already running" at once.
 *
 * <p>Each runner is one incarnation ({@code <instanceId>@<random>}, new on every start): before its
 * first job it registers that incarnation in the store as a lease of its own, renewed with the
 * heartbeats and released on {@link #close()}, and its jobs' owners are {@code <incarnation>#<n>}.
 * That registration is how {@link LeaseSweep} tells a dead holder from a live one.
 *
 * <p>If the store cannot keep leases at all (for instance a database whose migrations predate
 * them), jobs run unguarded and one warning says how to fix it, instead of every job crashing.
 */
public final class JobRunner implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(JobRunner.class);

  /** What {@link #runExclusive} did. */
  public record Outcome<T>(boolean ran, T result, Lease runningElsewhere) {
    static <T> Outcome<T> ran(T result) {
      return new Outcome<>(true, result, null);
    }

    static <T> Outcome<T> alreadyRunning(Lease holder) {
      return new Outcome<>(false, null, holder);
    }
  }

  /** What a running job can ask about its lease. */
  public interface JobContext {
    JobKey key();

    /** True once a heartbeat found the lease taken over: stop and let the new holder finish. */
    boolean leaseLost();
  }

  private final JobLeases leases;
  private final String incarnation;
  private final JobKey registration;
  private final Duration ttl;
  private final ScheduledExecutorService heartbeats;
  private final AtomicLong jobs = new AtomicLong();
  private final AtomicBoolean warnedDegraded = new AtomicBoolean();
  private ScheduledFuture<?> registrationHeartbeat;
  private boolean closed;

  /**
   * A runner whose jobs' leases last {@code ttl} unless renewed.
   *
   * @param instanceId this process's id; a fresh random suffix makes the incarnation unique per
   *     start even when the host reuses the id
   */
  public JobRunner(JobLeases leases, String instanceId, Duration ttl) {
    this.leases = leases;
    String token = Incarnations.newToken();
    this.incarnation = instanceId + "@" + token;
    this.registration = Incarnations.registration(token);
    this.ttl = ttl;
    this.heartbeats =
        Executors.newSingleThreadScheduledExecutor(Threads.daemonNamed("durable-job-heartbeat"));
  }

  /** This runner's incarnation, {@code <instanceId>@<random>}: the prefix of its lease owners. */
  public String incarnation() {
    return incarnation;
  }

  /** Runs {@code work} under the job's lease, or reports who runs it already. */
  public <T> Outcome<T> runExclusive(JobKey key, Function<JobContext, T> work) {
    String owner = incarnation + "#" + jobs.incrementAndGet();
    Optional<Lease> lease;
    try {
      // Registered before the job's lease exists, so a sweep never sees the lease without it.
      ensureRegistered();
      lease = leases.tryAcquire(key, owner, ttl);
    } catch (TransientStoreException e) {
      throw e;
    } catch (DurableDeployException e) {
      if (warnedDegraded.compareAndSet(false, true)) {
        LOG.warn(
            "job leases are unavailable ({}); running jobs without stuck-job protection."
                + " Apply the store's migrations to enable it.",
            e.getMessage());
      }
      return Outcome.ran(work.apply(context(key, new AtomicBoolean())));
    }
    if (lease.isEmpty()) {
      return Outcome.alreadyRunning(leases.find(key).orElse(null));
    }
    AtomicBoolean lost = new AtomicBoolean();
    long every = Math.max(1, ttl.toMillis() / 3);
    ScheduledFuture<?> heartbeat =
        heartbeats.scheduleAtFixedRate(
            () -> {
              try {
                if (leases.renew(key, owner, ttl).isEmpty()) {
                  lost.set(true);
                }
              } catch (RuntimeException e) {
                LOG.warn("heartbeat of job {} failed: {}", key, e.getMessage());
              }
            },
            every,
            every,
            TimeUnit.MILLISECONDS);
    try {
      return Outcome.ran(work.apply(context(key, lost)));
    } finally {
      heartbeat.cancel(false);
      try {
        leases.release(key, owner);
      } catch (RuntimeException e) {
        // The lease expires on its own after its TTL.
        LOG.warn("releasing job {} failed; it frees itself after {}: {}", key, ttl, e.getMessage());
      }
    }
  }

  /** Registers this incarnation once, and keeps the registration renewed until close. */
  private synchronized void ensureRegistered() {
    if (registrationHeartbeat != null || closed) {
      return;
    }
    if (leases.tryAcquire(registration, incarnation, ttl).isEmpty()) {
      throw new IllegalStateException(
          "incarnation " + incarnation + " is registered by someone else: random ids collided");
    }
    long every = Math.max(1, ttl.toMillis() / 3);
    registrationHeartbeat =
        heartbeats.scheduleAtFixedRate(
            this::renewRegistration, every, every, TimeUnit.MILLISECONDS);
  }

  private void renewRegistration() {
    try {
      // Gone only if it expired during an outage and a sweep removed it: register again. The
      // sweep may have freed this incarnation's job leases meanwhile; their heartbeats report it.
      if (leases.renew(registration, incarnation, ttl).isEmpty()
          && leases.tryAcquire(registration, incarnation, ttl).isPresent()) {
        LOG.warn(
            "incarnation {} was not renewed within {} and registered again; its jobs may have"
                + " been taken over meanwhile",
            incarnation,
            ttl);
      }
    } catch (RuntimeException e) {
      LOG.warn("renewing the registration of {} failed: {}", incarnation, e.getMessage());
    }
  }

  private static JobContext context(JobKey key, AtomicBoolean lost) {
    return new JobContext() {
      @Override
      public JobKey key() {
        return key;
      }

      @Override
      public boolean leaseLost() {
        return lost.get();
      }
    };
  }

  /**
   * Stops the heartbeats and ends this incarnation's registration, so that a sweep frees any lease
   * of its jobs still left at once.
   */
  @Override
  public void close() {
    boolean registered;
    synchronized (this) {
      closed = true;
      registered = registrationHeartbeat != null;
    }
    heartbeats.shutdownNow();
    if (registered) {
      try {
        leases.release(registration, incarnation);
      } catch (RuntimeException e) {
        LOG.warn(
            "ending the registration of {} failed; it expires after {}: {}",
            incarnation,
            ttl,
            e.getMessage());
      }
    }
  }
}
