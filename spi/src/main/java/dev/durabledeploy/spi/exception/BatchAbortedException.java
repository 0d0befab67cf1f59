package dev.durabledeploy.spi.exception;

/**
 * A batched job gave up after too many consecutive batch failures (default 3, see {@link
 * dev.durabledeploy.spi.retry.RetryPolicy#abortAfterConsecutiveFailures()}). Names the batch that
 * failed last; the cause is its error.
 */
public class BatchAbortedException extends DurableDeployException {

  private final String batch;
  private final int consecutiveFailures;

  public BatchAbortedException(String batch, int consecutiveFailures, Throwable cause) {
    super(
        "aborted after "
            + consecutiveFailures
            + " consecutive failed batches; last failed batch: "
            + batch
            + " ("
            + (cause == null ? "no cause" : cause.getMessage())
            + ")",
        cause);
    this.batch = batch;
    this.consecutiveFailures = consecutiveFailures;
  }

  public String batch() {
    return batch;
  }

  public int consecutiveFailures() {
    return consecutiveFailures;
  }
}
