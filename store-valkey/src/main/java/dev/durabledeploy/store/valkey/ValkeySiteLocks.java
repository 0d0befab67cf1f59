package dev.durabledeploy.store.valkey;

import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.exception.SiteBusyException;
import dev.durabledeploy.spi.exception.TransientStoreException;
import dev.durabledeploy.spi.health.Health;
import dev.durabledeploy.spi.lock.SiteLock;
import dev.durabledeploy.spi.lock.SiteLocks;
import io.lettuce.core.ScriptOutputType;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;

/**
 * Site locks as {@code SET <ns>:{<site>}:lock <token> NX PX <ttl>}: a random token per holder,
 * released and extended by compare-token Lua, so nobody ever releases a lock another holder took
 * after it expired. While held, a watchdog extends the lock every third of its time to live; a
 * holder that dies stops extending and its lock expires after at most that time. Expiry is the
 * server's ({@code PX}), so the hosts' clocks do not matter.
 *
 * <p>{@link SiteLock#isHeld()} is local and honest: a lock counts as held only while the start of
 * its last successful {@code SET} or extension, plus the time to live, less a margin of a tenth of
 * it, lies ahead on this host's monotonic clock. The server expires it no earlier than the time to
 * live after that start, so during an outage (extensions fail) or a pause of this process the lock
 * reports lost before the server lets anyone else take it. An extension that finds another token
 * (or none) loses it at once. Once lost it stays lost.
 *
 * <p>Contended callers poll every 10 to 50 ms until their timeout, then get {@link
 * SiteBusyException}. A holder's own next acquire would win every race against a caller polling
 * from another host, so a caller that finds the lock held by another store reserves it ({@code
 * <ns>:{<site>}:lock-next}, {@value #RESERVATION_MILLIS} ms, renewed on each try): while the
 * reservation runs only the reserving store may take the lock ({@code lock-acquire.lua}).
 */
final class ValkeySiteLocks implements SiteLocks {

  private static final org.slf4j.Logger LOG =
      org.slf4j.LoggerFactory.getLogger(ValkeySiteLocks.class);
  private static final SecureRandom TOKENS = new SecureRandom();

  /** How long a reservation lasts without renewal: ten of a waiter's longest pauses. */
  static final long RESERVATION_MILLIS = 500;

  private final Valkey valkey;
  private final Keys keys;
  private final String storeId;
  private final Duration ttl;
  private final long validNanos;
  private final ScheduledExecutorService watchdog;
  private final Set<Held> held = ConcurrentHashMap.newKeySet();

  ValkeySiteLocks(
      Valkey valkey, Keys keys, String storeId, Duration ttl, ScheduledExecutorService watchdog) {
    this.valkey = valkey;
    this.keys = keys;
    this.storeId = storeId;
    this.ttl = ttl;
    this.validNanos = TimeUnit.MILLISECONDS.toNanos(ttl.toMillis() - ttl.toMillis() / 10);
    this.watchdog = watchdog;
    long period = Math.max(1, ttl.toMillis() / 3);
    watchdog.scheduleWithFixedDelay(this::extendAll, period, period, TimeUnit.MILLISECONDS);
  }

  @Override
  public SiteLock acquire(SiteId site, Duration timeout) {
    Objects.requireNonNull(site, "site");
    Objects.requireNonNull(timeout, "timeout");
    String key = keys.lock(site);
    List<String> lockKeys = List.of(key, keys.lockNext(site));
    String token = storeId + ":" + HexFormat.of().formatHex(TOKENS.generateSeed(16));
    long deadline = System.nanoTime() + Math.max(0, timeout.toNanos());
    long pauseMillis = 10;
    while (true) {
      long start = System.nanoTime();
      // A reservation lasts at most until this caller's deadline: a single try (timeout zero)
      // reserves nothing, and a caller that gives up leaves none behind.
      long reservationMillis =
          Math.min(RESERVATION_MILLIS, TimeUnit.NANOSECONDS.toMillis(deadline - start));
      List<String> args =
          List.of(
              token,
              Long.toString(ttl.toMillis()),
              storeId,
              Long.toString(Math.max(0, reservationMillis)));
      Long taken = valkey.script("lock-acquire", ScriptOutputType.INTEGER, lockKeys, args);
      if (taken != null && taken == 1) {
        Held lock = new Held(site, key, token, start);
        held.add(lock);
        return lock;
      }
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        throw new SiteBusyException(site, timeout);
      }
      LockSupport.parkNanos(Math.min(left, TimeUnit.MILLISECONDS.toNanos(pauseMillis)));
      if (Thread.interrupted()) {
        Thread.currentThread().interrupt();
        throw new SiteBusyException(site, timeout);
      }
      pauseMillis = Math.min(50, pauseMillis * 2);
    }
  }

  private void extendAll() {
    for (Held lock : held) {
      if (!lock.isHeld()) {
        held.remove(lock); // ran out before this round could extend it: lost for good
        continue;
      }
      long start = System.nanoTime();
      try {
        Long extended =
            valkey.script(
                "lock-extend",
                ScriptOutputType.INTEGER,
                List.of(lock.key),
                List.of(lock.token, Long.toString(ttl.toMillis())));
        if (extended == null || extended == 0) {
          lock.lost();
        } else {
          lock.extended(start);
        }
      } catch (TransientStoreException | IllegalStateException e) {
        // Not extended this time; the next round tries again. Should the outage outlast the
        // lock's validity, isHeld() turns false on its own, before the server's expiry.
      }
    }
  }

  void stop() {
    watchdog.shutdownNow();
  }

  private final class Held implements SiteLock {
    private final SiteId site;
    private final String key;
    private final String token;
    private final AtomicBoolean holding = new AtomicBoolean(true);
    private long validUntilNanos;
    private boolean valid = true;

    Held(SiteId site, String key, String token, long takenAtNanos) {
      this.site = site;
      this.key = key;
      this.token = token;
      this.validUntilNanos = takenAtNanos + validNanos;
    }

    void lost() {
      synchronized (this) {
        valid = false;
      }
      held.remove(this);
    }

    /** An extension that started at {@code startNanos} succeeded. */
    synchronized void extended(long startNanos) {
      if (isHeld()) {
        validUntilNanos = Math.max(validUntilNanos, startNanos + validNanos);
      }
    }

    @Override
    public SiteId site() {
      return site;
    }

    @Override
    public synchronized boolean isHeld() {
      if (valid && System.nanoTime() - validUntilNanos >= 0) {
        valid = false; // once lost, never held again, even if a late extension succeeds
      }
      return holding.get() && valid;
    }

    @Override
    public synchronized Optional<Duration> validFor() {
      return Optional.of(
          isHeld() ? Duration.ofNanos(validUntilNanos - System.nanoTime()) : Duration.ZERO);
    }

    @Override
    public void close() {
      if (holding.compareAndSet(true, false)) {
        held.remove(this);
        try {
          valkey.script("lock-release", ScriptOutputType.INTEGER, List.of(key), List.of(token));
        } catch (TransientStoreException e) {
          // Not extended any more, the lock expires within its time to live.
          LOG.warn(
              "releasing the lock of site {} failed, it expires within {}: {}",
              site,
              ttl,
              e.getMessage());
        }
      }
    }
  }

  /**
   * The locks this store holds and the time to live, with the server's settings ({@link
   * ServerHealth}): an evicting policy drops held locks first. The locks share the store's one
   * connection and hold nothing else while held.
   */
  @Override
  public Health health() {
    Health server = ServerHealth.probe(valkey, false);
    return server
        .withDetail("heldHere", held.stream().filter(Held::isHeld).count())
        .withDetail("ttlMs", ttl.toMillis());
  }
}
