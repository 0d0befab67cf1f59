package dev.durabledeploy.spi.lock;

import dev.durabledeploy.spi.SiteId;

/** A held site lock. Closing releases it; closing twice is a no-op. */
public interface SiteLock extends AutoCloseable {

  SiteId site();

  /**
   * Whether the lock is still held: false after {@link #close()}, or when the store lost it (e.g.
   * the connection holding it died). Check it right before an irreversible step.
   */
  boolean isHeld();

  @Override
  void close();
}
