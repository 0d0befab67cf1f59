package dev.durabledeploy.spi.retry;

import dev.durabledeploy.spi.exception.BatchAbortedException;

/**
 * Counts consecutive failed batches of one job and aborts it when they reach the policy's limit
 * (the seed's "abort after 3 consecutive batch failures"). Not thread-safe: one per job run.
 */
public final class BatchFailureTracker {

  private final int limit;
  private int consecutive;

  BatchFailureTracker(int limit) {
    this.limit = limit;
  }

  /** A batch succeeded: the count starts over. */
  public void success() {
    consecutive = 0;
  }

  /**
   * A batch failed (after its own retries).
   *
   * @throws BatchAbortedException naming {@code batch} when this is the limit-th failure in a row
   */
  public void failure(String batch, Throwable cause) {
    consecutive++;
    if (consecutive >= limit) {
      throw new BatchAbortedException(batch, consecutive, cause);
    }
  }

  /** Failures since the last success. */
  public int consecutiveFailures() {
    return consecutive;
  }
}
