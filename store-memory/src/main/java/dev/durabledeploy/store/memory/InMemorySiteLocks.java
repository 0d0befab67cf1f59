package dev.durabledeploy.store.memory;

import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.exception.SiteBusyException;
import dev.durabledeploy.spi.health.Health;
import dev.durabledeploy.spi.lock.SiteLock;
import dev.durabledeploy.spi.lock.SiteLocks;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Site locks for one process: a fair binary semaphore per site. A semaphore rather than a {@code
 * ReentrantLock} because the SPI's locks are not reentrant, and a lock may be released from another
 * thread than the one that took it (an async saga).
 */
final class InMemorySiteLocks implements SiteLocks {

  private final ConcurrentHashMap<SiteId, Semaphore> locks = new ConcurrentHashMap<>();

  @Override
  public SiteLock acquire(SiteId site, Duration timeout) {
    Objects.requireNonNull(site, "site");
    Objects.requireNonNull(timeout, "timeout");
    Semaphore semaphore = locks.computeIfAbsent(site, s -> new Semaphore(1, true));
    try {
      if (!semaphore.tryAcquire(Math.max(0, timeout.toNanos()), TimeUnit.NANOSECONDS)) {
        throw new SiteBusyException(site, timeout);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new SiteBusyException(site, timeout);
    }
    AtomicBoolean held = new AtomicBoolean(true);
    return new SiteLock() {
      @Override
      public SiteId site() {
        return site;
      }

      @Override
      public boolean isHeld() {
        return held.get();
      }

      @Override
      public void close() {
        if (held.compareAndSet(true, false)) {
          semaphore.release();
        }
      }
    };
  }

  /** The locks held now; in-process locks hold no connection and do not expire. */
  @Override
  public Health health() {
    long held = locks.values().stream().filter(s -> s.availablePermits() == 0).count();
    return Health.up(java.util.Map.of("heldHere", held));
  }
}
