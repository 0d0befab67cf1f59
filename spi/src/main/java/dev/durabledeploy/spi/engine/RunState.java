package dev.durabledeploy.spi.engine;

/** Where a run is. */
public enum RunState {
  /** Accepted, waiting for its key or a worker (or for its debounce window). */
  QUEUED,
  RUNNING,
  /** Failed transiently, waiting for its next attempt. */
  RETRYING,
  SUCCEEDED,
  /** Attempts exhausted or a permanent failure (DESIGN.md E5). */
  DEAD_LETTERED,
  /** A dead letter the host discarded. */
  DISCARDED;

  public boolean isTerminal() {
    return this == SUCCEEDED || this == DEAD_LETTERED || this == DISCARDED;
  }
}
