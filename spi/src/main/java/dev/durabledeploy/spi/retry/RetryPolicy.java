package dev.durabledeploy.spi.retry;

import dev.durabledeploy.spi.exception.ConfigurationException;
import java.time.Duration;
import java.util.Objects;
import java.util.random.RandomGenerator;

/**
 * The one retry policy of the library (relay, blob adapters, clones, workflow runs): exponential
 * backoff with full jitter, a cap on attempts and on the delay, a classifier of transient versus
 * permanent failures, and a limit of consecutive failed batches after which a batched job aborts.
 * Pure computation: the caller sleeps, and passes the random source, so tests are deterministic.
 *
 * @param maxAttempts total attempts including the first, at least 1
 * @param initialDelay the backoff ceiling before the first retry
 * @param maxDelay the largest backoff ceiling
 * @param multiplier growth of the ceiling per retry, at least 1
 * @param abortAfterConsecutiveFailures consecutive failed batches that abort a batched job
 * @param classifier which failures are worth retrying
 */
public record RetryPolicy(
    int maxAttempts,
    Duration initialDelay,
    Duration maxDelay,
    double multiplier,
    int abortAfterConsecutiveFailures,
    FailureClassifier classifier) {

  public static final int DEFAULT_MAX_ATTEMPTS = 5;
  public static final Duration DEFAULT_INITIAL_DELAY = Duration.ofMillis(200);
  public static final Duration DEFAULT_MAX_DELAY = Duration.ofSeconds(30);
  public static final double DEFAULT_MULTIPLIER = 2.0;
  public static final int DEFAULT_ABORT_AFTER_CONSECUTIVE_FAILURES = 3;

  public RetryPolicy {
    if (maxAttempts < 1) {
      throw new ConfigurationException("maxAttempts", "must be at least 1, was " + maxAttempts);
    }
    Objects.requireNonNull(initialDelay, "initialDelay");
    Objects.requireNonNull(maxDelay, "maxDelay");
    if (initialDelay.isNegative()) {
      throw new ConfigurationException("initialDelay", "must not be negative");
    }
    if (maxDelay.compareTo(initialDelay) < 0) {
      throw new ConfigurationException("maxDelay", "must be at least initialDelay " + initialDelay);
    }
    if (!(multiplier >= 1.0) || Double.isInfinite(multiplier)) {
      throw new ConfigurationException("multiplier", "must be a finite number >= 1");
    }
    if (abortAfterConsecutiveFailures < 1) {
      throw new ConfigurationException("abortAfterConsecutiveFailures", "must be at least 1");
    }
    Objects.requireNonNull(classifier, "classifier");
  }

  /** 5 attempts, 200 ms doubling up to 30 s, abort after 3 failed batches, default classifier. */
  public static RetryPolicy defaults() {
    return new RetryPolicy(
        DEFAULT_MAX_ATTEMPTS,
        DEFAULT_INITIAL_DELAY,
        DEFAULT_MAX_DELAY,
        DEFAULT_MULTIPLIER,
        DEFAULT_ABORT_AFTER_CONSECUTIVE_FAILURES,
        FailureClassifier.DEFAULT);
  }

  /** One attempt, no retry. */
  public static RetryPolicy noRetry() {
    return defaults().withMaxAttempts(1);
  }

  public RetryPolicy withMaxAttempts(int maxAttempts) {
    return new RetryPolicy(
        maxAttempts, initialDelay, maxDelay, multiplier, abortAfterConsecutiveFailures, classifier);
  }

  public RetryPolicy withBackoff(Duration initialDelay, Duration maxDelay, double multiplier) {
    return new RetryPolicy(
        maxAttempts, initialDelay, maxDelay, multiplier, abortAfterConsecutiveFailures, classifier);
  }

  public RetryPolicy withAbortAfterConsecutiveFailures(int failures) {
    return new RetryPolicy(maxAttempts, initialDelay, maxDelay, multiplier, failures, classifier);
  }

  public RetryPolicy withClassifier(FailureClassifier classifier) {
    return new RetryPolicy(
        maxAttempts, initialDelay, maxDelay, multiplier, abortAfterConsecutiveFailures, classifier);
  }

  /**
   * The backoff ceiling before retry number {@code retry} (1 for the first retry): {@code
   * min(maxDelay, initialDelay * multiplier^(retry-1))}, without overflow.
   */
  public Duration ceiling(int retry) {
    if (retry < 1) {
      throw new IllegalArgumentException("retry numbers start at 1");
    }
    double nanos = initialDelay.toNanos() * Math.pow(multiplier, retry - 1);
    long max = maxDelay.toNanos();
    return Duration.ofNanos(nanos >= max ? max : (long) nanos);
  }

  /**
   * The delay before retry number {@code retry}, drawn uniformly from {@code [0, ceiling(retry)]}
   * ("full jitter"), which spreads out clients that failed together.
   */
  public Duration delayBefore(int retry, RandomGenerator random) {
    long ceiling = ceiling(retry).toNanos();
    return Duration.ofNanos(ceiling == 0 ? 0 : random.nextLong(ceiling + 1));
  }

  /** Whether {@code failure} is worth retrying according to the classifier. */
  public boolean isTransient(Throwable failure) {
    return classifier.isTransient(failure);
  }

  /**
   * Whether to try again after {@code attemptsMade} attempts, the last of which failed with {@code
   * failure}: attempts left and the failure is transient.
   */
  public boolean shouldRetry(int attemptsMade, Throwable failure) {
    return attemptsMade < maxAttempts && isTransient(failure);
  }

  /** A fresh counter of consecutive failed batches for one batched job. */
  public BatchFailureTracker newBatchTracker() {
    return new BatchFailureTracker(abortAfterConsecutiveFailures);
  }
}
