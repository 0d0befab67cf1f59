package dev.durabledeploy.spi.engine;

/** Where a run is. */
public enum RunState {
  /** Accepted, waiting for its key or a worker (or for its debounce window). */
  QUEUED,
  RUNNING,
  /** Failed transiently, waiting for its next attempt. */
  RETRYING,
  SUCCEEDED,
  /** Attempts exhausted or a permanent failure (docs/invariants.md E5). */
  DEAD_LETTERED,
  /** A dead letter the host discarded. */
  DISCARDED,
  /**
   * The engine stopped before the run finished; it was handed back unacknowledged, so its event is
   * redelivered to a running engine.
   */
  ABANDONED;

  public boolean isTerminal() {
    return this != QUEUED && this != RUNNING && this != RETRYING;
  }
}
