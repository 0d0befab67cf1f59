package dev.durabledeploy.spi.lock;

import dev.durabledeploy.spi.SiteId;
import java.time.Duration;
import java.util.Optional;

/**
 * A held site lock. Closing releases it; closing twice is a no-op, and closing a lock that was lost
 * never releases the lock of whoever holds it now.
 */
public interface SiteLock extends AutoCloseable {

  SiteId site();

  /**
   * Whether the lock is still held. Decided locally, without a round trip, so that a saga can ask
   * before every step (the core does: see {@link
   * dev.durabledeploy.spi.exception.SiteLockLostException}).
   *
   * <p>False after {@link #close()}. For a store whose locks expire unless renewed, false from the
   * moment the store could let anyone else take the lock: the lock counts as held only while the
   * start of its last successful renewal, plus its time to live, less a safety margin, lies in the
   * future on this host's monotonic clock — so it turns false before the store's own expiry, even
   * during an outage that keeps renewals from reaching the store or a pause of this process. Once
   * false it stays false.
   *
   * <p>It speaks for the moment of the call only: a step already in flight when the lock expires (a
   * long blob move, a commit that hangs) is not stopped by it.
   */
  boolean isHeld();

  /**
   * How much longer the lock counts as held ({@link #isHeld()}) if no renewal succeeds from now:
   * the time left of its local validity. Decided locally, like {@link #isHeld()}. Zero once the
   * lock is lost or closed. Empty for a lock that does not expire (one held until it is closed,
   * such as an in-process lock), which the default returns.
   *
   * <p>The core reads it before a step that it cannot stop once started and that must not outlive
   * the lock (a blob write that replaces bytes): with little validity left, renewals are failing,
   * and the step is refused rather than started.
   */
  default Optional<Duration> validFor() {
    return Optional.empty();
  }

  @Override
  void close();
}
