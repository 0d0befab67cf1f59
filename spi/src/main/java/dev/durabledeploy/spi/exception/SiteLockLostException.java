package dev.durabledeploy.spi.exception;

import dev.durabledeploy.spi.SiteId;

/**
 * An operation lost its site lock while it ran (docs/invariants.md E1): the store could not renew
 * the lock within its time to live — the store was unreachable from this host, or this process was
 * paused (a long GC, a frozen VM) — so another caller may hold it now. The operation stopped before
 * its next step; the steps already taken are idempotent, and running the operation again completes
 * them (V9).
 *
 * <p>Transient, so a background workflow is retried by its engine and takes the lock afresh; the
 * library's own retries never repeat a step once the lock is lost. If it recurs, check the store's
 * reachability from this host and pauses of this process.
 */
public class SiteLockLostException extends TransientStoreException {

  private final SiteId site;
  private final String operation;

  public SiteLockLostException(SiteId site, String operation) {
    this(
        site,
        operation,
        "stopped before the next step. Run the operation again; if this recurs, check the"
            + " store's reachability and this process's pauses");
  }

  /**
   * A lost lock whose consequence differs from "stopped before the next step", e.g. a write that
   * was already in flight when the lock was lost.
   *
   * @param consequence what happened and what to do, appended to the message
   */
  public SiteLockLostException(SiteId site, String operation, String consequence) {
    super(
        "the lock of site '"
            + site
            + "' was lost during "
            + operation
            + " (it could not be renewed within its time to live: the store was unreachable"
            + " from this host, or this process was paused), so another caller may hold it; "
            + consequence);
    this.site = site;
    this.operation = operation;
  }

  /** The site whose lock was lost. */
  public SiteId site() {
    return site;
  }

  /** The operation that stopped. */
  public String operation() {
    return operation;
  }
}
