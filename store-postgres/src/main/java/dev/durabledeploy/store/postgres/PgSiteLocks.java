package dev.durabledeploy.store.postgres;

import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.exception.SiteBusyException;
import dev.durabledeploy.spi.health.Health;
import dev.durabledeploy.spi.lock.SiteLock;
import dev.durabledeploy.spi.lock.SiteLocks;
import dev.durabledeploy.spi.support.Threads;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.jdbi.v3.core.Jdbi;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Site locks as leases in the table {@code site_locks}: a held lock is a row, not a connection.
 *
 * <ul>
 *   <li><b>Acquire</b> is one {@code INSERT .. ON CONFLICT DO UPDATE .. WHERE expires_at <=
 *       clock_timestamp()}: it takes a free or expired row and stamps it with this store's holder
 *       id and a new generation from a sequence (a fencing token, never reused). A waiter holds no
 *       connection between tries: it retries with backoff (5 ms doubling to {@value
 *       #MAX_PAUSE_MILLIS} ms), and is woken at once when a lock of the same site is released in
 *       this process. So waiters for one site never take connections from holders of another, and
 *       ten waiters on a busy site cost a few statements a second, not ten connections.
 *   <li><b>Fairness between hosts</b>: a holder's own waiters are woken the moment it releases, so
 *       a busy site could pass from thread to thread of one host while another host's waiter, which
 *       polls, never finds it free. A waiter that finds the lock held by another store reserves it
 *       ({@code next_holder}, for {@value #RESERVATION_MILLIS} ms on the server's clock, renewed on
 *       each of its tries). While a reservation runs, a release leaves the row in place, expired,
 *       and only the reserving store may take it; taking it clears the reservation. A waiter that
 *       gives up or dies stops renewing, and its reservation lapses.
 *   <li><b>Renewal</b>: a watchdog renews every lock this store holds in one {@code UPDATE} every
 *       third of the time to live, guarded by holder and generation.
 *   <li><b>Release</b> is a {@code DELETE} guarded by holder and generation, so a lock that expired
 *       and was taken by someone else is never released by its old holder.
 *   <li><b>Time</b>: expiry is on the database server's clock ({@code clock_timestamp()}), so the
 *       clocks of the hosts do not matter. A holder that dies, freezes or loses the network stops
 *       renewing, and its site is free after at most the time to live — not after TCP keepalive
 *       notices a dead peer (two hours by default), as with a session advisory lock.
 *   <li><b>{@link SiteLock#isHeld()}</b> is local: held while the start of the last successful
 *       renewal plus the time to live, less a margin of a tenth of it, lies ahead on this host's
 *       monotonic clock. The server's expiry lies at least the time to live after that start, so
 *       the lock reports lost before the server can hand it to anyone, as long as the database
 *       server's clock does not jump forward by more than the margin.
 * </ul>
 *
 * <p>Every statement borrows a connection for itself and gives it back at once, with no session
 * state left on it (no {@code lock_timeout}, no advisory lock): the host's pool lends connections,
 * it never loses them.
 */
final class PgSiteLocks implements SiteLocks, AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(PgSiteLocks.class);
  static final long MAX_PAUSE_MILLIS = 100;

  /**
   * How long a waiter's reservation of a busy site lasts without renewal: ten of its longest pauses
   * between tries, so a waiter slowed by a loaded database keeps it, and one that left frees it
   * soon.
   */
  static final long RESERVATION_MILLIS = 10 * MAX_PAUSE_MILLIS;

  private static final int STRIPES = 64;

  private final Jdbi jdbi;
  private final String generationSequence;
  private final String holder;
  private final long ttlMillis;
  private final long validNanos;
  private final Set<Held> held = ConcurrentHashMap.newKeySet();
  private final Stripe[] stripes = new Stripe[STRIPES];
  private final ScheduledExecutorService watchdog;

  /** Renewal rounds that failed since the last that succeeded (the watchdog's thread writes). */
  private volatile int failedRenewals;

  /** Per-site-hash wake-ups for waiters of this process, so a release here hands over at once. */
  private static final class Stripe {
    long releases;
  }

  PgSiteLocks(Jdbi jdbi, String schema, String holder, Duration ttl) {
    this.jdbi = jdbi;
    // A validated identifier; in a string literal, where the template cannot reach.
    this.generationSequence = schema + ".site_lock_generation";
    this.holder = holder;
    this.ttlMillis = ttl.toMillis();
    this.validNanos = TimeUnit.MILLISECONDS.toNanos(ttlMillis - ttlMillis / 10);
    for (int i = 0; i < STRIPES; i++) {
      stripes[i] = new Stripe();
    }
    this.watchdog =
        Executors.newSingleThreadScheduledExecutor(Threads.daemonNamed("durable-pg-lock-watchdog"));
    long period = Math.max(1, ttlMillis / 3);
    watchdog.scheduleWithFixedDelay(this::renewAll, period, period, TimeUnit.MILLISECONDS);
  }

  @Override
  public SiteLock acquire(SiteId site, Duration timeout) {
    Objects.requireNonNull(site, "site");
    Objects.requireNonNull(timeout, "timeout");
    long deadline = System.nanoTime() + Math.max(0, timeout.toNanos());
    Stripe stripe = stripes[Math.floorMod(site.hashCode(), STRIPES)];
    long pauseMillis = 5;
    while (true) {
      long seen;
      synchronized (stripe) {
        seen = stripe.releases;
      }
      long start = System.nanoTime();
      Optional<Long> generation = tryTake(site, deadline);
      if (generation.isPresent()) {
        Held lock = new Held(site, generation.get(), start);
        held.add(lock);
        return lock;
      }
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        throw new SiteBusyException(site, timeout);
      }
      long waitMillis = Math.max(1, Math.min(pauseMillis, TimeUnit.NANOSECONDS.toMillis(left)));
      try {
        synchronized (stripe) {
          if (stripe.releases == seen) {
            stripe.wait(waitMillis);
          }
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new SiteBusyException(site, timeout);
      }
      pauseMillis = Math.min(MAX_PAUSE_MILLIS, pauseMillis * 2);
    }
  }

  /**
   * One try: the row if it is free or expired on the server's clock. A serialization failure or a
   * deadlock (40001, 40P01: another taker changed the row at the same moment) is "not taken, try
   * again", never an error: it only says someone else was there.
   */
  private Optional<Long> tryTake(SiteId site, long deadline) {
    try {
      Optional<Long> taken = take(site, deadline);
      // Reserve only for as long as this caller still waits: a single try (timeout zero) or a
      // last try must not keep the free lock from everyone else for a caller that is gone.
      long leftMillis = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
      if (taken.isEmpty() && leftMillis > 0) {
        reserve(site, Math.min(RESERVATION_MILLIS, leftMillis));
      }
      return taken;
    } catch (org.jdbi.v3.core.JdbiException e) {
      String state = Sql.sqlState(e);
      if ("40001".equals(state) || "40P01".equals(state)) {
        return Optional.empty();
      }
      throw Sql.translate("taking the site lock of '" + site + "'", e);
    }
  }

  /**
   * Writes this store as the next holder of a site another store holds, for {@code
   * reservationMillis} (at most until the caller's deadline), unless a third store's reservation
   * still runs (the first waiting host goes first). A site held by this store is handed over within
   * the process, by the wake-up of its release.
   */
  private void reserve(SiteId site, long reservationMillis) {
    jdbi.useHandle(
        h ->
            h.createUpdate(
                    "UPDATE <schema>.site_locks"
                        + " SET next_holder = :holder,"
                        + "   next_until = clock_timestamp() + :reservation * interval '1 millisecond'"
                        + " WHERE site = :site AND holder <> :holder"
                        + "   AND (next_holder IS NULL OR next_holder = :holder"
                        + "        OR next_until <= clock_timestamp())")
                .setQueryTimeout(5)
                .bind("site", site.value())
                .bind("holder", holder)
                .bind("reservation", reservationMillis)
                .execute());
  }

  private Optional<Long> take(SiteId site, long deadline) {
    int timeoutSeconds =
        (int) Math.max(5, TimeUnit.NANOSECONDS.toSeconds(deadline - System.nanoTime()) + 1);
    return jdbi.withHandle(
        h ->
            h.createQuery(
                    "INSERT INTO <schema>.site_locks AS l"
                        + " (site, holder, generation, acquired_at, expires_at)"
                        + " VALUES (:site, :holder, nextval('"
                        + generationSequence
                        + "'),"
                        + "   clock_timestamp(),"
                        + "   clock_timestamp() + :ttl * interval '1 millisecond')"
                        + " ON CONFLICT (site) DO UPDATE SET holder = excluded.holder,"
                        + "   generation = excluded.generation,"
                        + "   acquired_at = excluded.acquired_at,"
                        + "   expires_at = excluded.expires_at,"
                        + "   next_holder = NULL, next_until = NULL"
                        + " WHERE l.expires_at <= clock_timestamp()"
                        + "   AND (l.next_holder IS NULL OR l.next_holder = excluded.holder"
                        + "        OR l.next_until <= clock_timestamp())"
                        + " RETURNING generation")
                .setQueryTimeout(timeoutSeconds)
                .bind("site", site.value())
                .bind("holder", holder)
                .bind("ttl", ttlMillis)
                .mapTo(Long.class)
                .findOne());
  }

  /**
   * Locks held by this store and by every store on the database (live rows), and the time to live;
   * a held lock is a row, so no connection is held for it. DEGRADED while the watchdog's renewals
   * fail: this store's locks report lost once their validity runs out.
   */
  @Override
  public Health health() {
    long all =
        Sql.call(
            "health probe",
            () ->
                jdbi.withHandle(
                    h ->
                        h.createQuery(
                                "SELECT count(*) FROM <schema>.site_locks"
                                    + " WHERE expires_at > clock_timestamp()")
                            .mapTo(Long.class)
                            .one()));
    Map<String, Object> details = new LinkedHashMap<>();
    details.put("heldHere", held.stream().filter(Held::isHeld).count());
    details.put("heldAll", all);
    details.put("ttlMs", ttlMillis);
    int failed = failedRenewals;
    if (failed > 0) {
      details.put("failedRenewals", failed);
      details.put(
          "reason",
          "the last "
              + failed
              + " renewals of this store's site locks failed: they report lost once their"
              + " validity runs out");
      return Health.degraded(details);
    }
    return Health.up(details);
  }

  /** The watchdog: one statement renews every lock still valid; the others are lost. */
  private void renewAll() {
    List<Held> renewing = new ArrayList<>();
    for (Held lock : held) {
      if (lock.isHeld()) {
        renewing.add(lock);
      } else {
        held.remove(lock);
      }
    }
    if (renewing.isEmpty()) {
      return;
    }
    long start = System.nanoTime();
    Set<Long> renewed;
    try {
      List<Long> generations = renewing.stream().map(l -> l.generation).toList();
      renewed =
          new HashSet<>(
              jdbi.withHandle(
                  h ->
                      h.createQuery(
                              "UPDATE <schema>.site_locks"
                                  + " SET expires_at = clock_timestamp() + :ttl * interval '1 millisecond'"
                                  + " WHERE holder = :holder AND generation = ANY(:generations)"
                                  + "   AND expires_at > clock_timestamp()"
                                  + " RETURNING generation")
                          .setQueryTimeout((int) Math.max(1, ttlMillis / 3000))
                          .bind("ttl", ttlMillis)
                          .bind("holder", holder)
                          .bindArray("generations", Long.class, generations)
                          .mapTo(Long.class)
                          .list()));
    } catch (RuntimeException e) {
      // Not renewed this round; each lock reports lost once its validity runs out.
      LOG.debug("renewing {} site lock(s) failed: {}", renewing.size(), e.getMessage());
      failedRenewals++;
      return;
    }
    failedRenewals = 0;
    for (Held lock : renewing) {
      if (renewed.contains(lock.generation)) {
        lock.renewed(start);
      } else {
        // Expired on the server (a renewal came too late) or taken: lost for good.
        lock.lost();
        held.remove(lock);
      }
    }
  }

  private void signal(SiteId site) {
    Stripe stripe = stripes[Math.floorMod(site.hashCode(), STRIPES)];
    synchronized (stripe) {
      stripe.releases++;
      stripe.notifyAll();
    }
  }

  /** Stops renewing and releases what is still held: their sagas stop at their next step. */
  @Override
  public void close() {
    watchdog.shutdownNow();
    for (Held lock : List.copyOf(held)) {
      lock.close();
    }
  }

  private final class Held implements SiteLock {
    private final SiteId site;
    private final long generation;
    private long validUntilNanos;
    private boolean open = true;
    private boolean valid = true;

    Held(SiteId site, long generation, long takenAtNanos) {
      this.site = site;
      this.generation = generation;
      this.validUntilNanos = takenAtNanos + validNanos;
    }

    @Override
    public SiteId site() {
      return site;
    }

    @Override
    public synchronized boolean isHeld() {
      if (valid && System.nanoTime() - validUntilNanos >= 0) {
        valid = false; // once lost, never held again, even if a late renewal succeeds
      }
      return open && valid;
    }

    @Override
    public synchronized Optional<Duration> validFor() {
      return Optional.of(
          isHeld() ? Duration.ofNanos(validUntilNanos - System.nanoTime()) : Duration.ZERO);
    }

    /** A renewal that started at {@code startNanos} succeeded. */
    synchronized void renewed(long startNanos) {
      if (isHeld()) {
        validUntilNanos = Math.max(validUntilNanos, startNanos + validNanos);
      }
    }

    synchronized void lost() {
      valid = false;
    }

    @Override
    public void close() {
      synchronized (this) {
        if (!open) {
          return;
        }
        open = false;
      }
      held.remove(this);
      try {
        jdbi.useHandle(
            h -> {
              // Unreserved, the row goes. Reserved by a waiting host, it stays, expired, for that
              // host to take; this store's own waiters (woken below) must leave it to it.
              int deleted =
                  h.createUpdate(
                          "DELETE FROM <schema>.site_locks"
                              + " WHERE site = :site AND holder = :holder AND generation = :generation"
                              + "   AND (next_holder IS NULL OR next_until <= clock_timestamp())")
                      .setQueryTimeout(5)
                      .bind("site", site.value())
                      .bind("holder", holder)
                      .bind("generation", generation)
                      .execute();
              if (deleted == 0) {
                h.createUpdate(
                        "UPDATE <schema>.site_locks SET expires_at = clock_timestamp()"
                            + " WHERE site = :site AND holder = :holder AND generation = :generation")
                    .setQueryTimeout(5)
                    .bind("site", site.value())
                    .bind("holder", holder)
                    .bind("generation", generation)
                    .execute();
              }
            });
      } catch (RuntimeException e) {
        // The lease is not renewed any more: it expires within its time to live.
        LOG.warn(
            "releasing the lock of site {} failed, it frees itself within {} ms: {}",
            site,
            ttlMillis,
            Sql.translate("releasing a site lock", e).getMessage());
      } finally {
        signal(site);
      }
    }
  }
}
