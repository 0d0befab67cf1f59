package dev.durabledeploy.spi.lock;

import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.health.Health;
import java.time.Duration;

/**
 * The per-site mutual exclusion that serialises every mutation of one site (docs/invariants.md E1),
 * across threads and across processes sharing the store. Locks are not reentrant: never acquire a
 * site's lock while holding it.
 */
public interface SiteLocks {

  /**
   * How long a caller waits by default before {@link
   * dev.durabledeploy.spi.exception.SiteBusyException}.
   */
  Duration DEFAULT_TIMEOUT = Duration.ofSeconds(30);

  /**
   * Waits up to {@code timeout} for the site's lock and returns the held lock; close it to release.
   * A lock whose holder dies, freezes or is cut off from the store is freed by the store within the
   * store's lock time to live. A caller waiting for one site's lock never keeps another site's
   * caller from its lock, nor holds resources the holders need (such as pooled connections).
   *
   * @throws dev.durabledeploy.spi.exception.SiteBusyException if the lock is still held by someone
   *     else after {@code timeout}; a zero timeout means one try
   */
  SiteLock acquire(SiteId site, Duration timeout);

  /**
   * What the site locks report about themselves (see {@link Health}): locks held, connections they
   * hold, the backend's state where they live. The plane bounds the call in time. The default
   * cannot probe anything and reports UP with the detail {@code probe=none}; every store of the
   * library overrides it.
   */
  default Health health() {
    return Health.up(java.util.Map.of("probe", "none"));
  }
}
