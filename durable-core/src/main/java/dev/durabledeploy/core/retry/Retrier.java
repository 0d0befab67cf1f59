package dev.durabledeploy.core.retry;

import dev.durabledeploy.core.events.Operations.Operation;
import dev.durabledeploy.spi.exception.SiteLockLostException;
import dev.durabledeploy.spi.retry.BatchFailureTracker;
import dev.durabledeploy.spi.retry.RetryPolicy;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.function.Supplier;
import java.util.random.RandomGenerator;

/**
 * Applies the one {@link RetryPolicy} to calls on remote stores: transient failures are retried
 * with full-jitter backoff, each retry announced as a {@code Retrying} event and counted in {@code
 * durable.retries}; permanent failures and exhausted attempts are rethrown unchanged. Only wrap
 * calls that are idempotent — every metadata command and blob operation of the SPI is (V9).
 *
 * <p>Every attempt first checks the operation's fence ({@link Operation#requireLockHeld()}): a saga
 * step never starts, nor is retried, once the operation's site lock is lost.
 */
public final class Retrier {

  private final RetryPolicy policy;
  private final RandomGenerator random;
  private final Sleeper sleeper;
  private final MeterRegistry meters;

  public Retrier(
      RetryPolicy policy, RandomGenerator random, Sleeper sleeper, MeterRegistry meters) {
    this.policy = policy;
    this.random = random;
    this.sleeper = sleeper;
    this.meters = meters;
  }

  public RetryPolicy policy() {
    return policy;
  }

  /** Fewest engine attempts of a background workflow (see {@link #workflowPolicy()}). */
  public static final int MIN_WORKFLOW_ATTEMPTS = 12;

  /**
   * Engine-level retries of the library's background workflows (GC, projection, purges, sweeps):
   * this retrier's policy with at least {@value #MIN_WORKFLOW_ATTEMPTS} attempts. An interactive
   * call should give up after the few seconds {@link #policy()} allows; a background run should
   * instead outlast a database or bucket outage of a minute or so (about 70 s of backoff with the
   * default delays) rather than be dead-lettered and wait for the next change of its site.
   */
  public RetryPolicy workflowPolicy() {
    return policy.withMaxAttempts(Math.max(policy.maxAttempts(), MIN_WORKFLOW_ATTEMPTS));
  }

  /**
   * Calls {@code body} until it succeeds, fails permanently or runs out of attempts.
   *
   * @throws dev.durabledeploy.spi.exception.SiteLockLostException before an attempt, when {@code
   *     op} runs under a site lock that is no longer held
   */
  public <T> T call(Operation op, Supplier<T> body) {
    int attempt = 1;
    while (true) {
      // Fencing: no step starts once the operation's site lock is lost (a local check).
      op.requireLockHeld();
      try {
        return body.get();
      } catch (RuntimeException failure) {
        if (failure instanceof SiteLockLostException && op.lostLock().isPresent()) {
          // This operation's fence stopped the step from inside (a prefix move between objects).
          throw failure;
        }
        if (!policy.shouldRetry(attempt, failure)) {
          throw failure;
        }
        Optional<SiteLockLostException> lost = op.lostLock();
        if (lost.isPresent()) {
          // Never retry a step once the lock is gone; say so, with what failed.
          lost.get().addSuppressed(failure);
          throw lost.get();
        }
        Duration delay = policy.delayBefore(attempt, random);
        attempt++;
        Counter.builder("durable.retries")
            .description("retried calls to remote stores")
            .tag("operation", op.name())
            .register(meters)
            .increment();
        op.retrying(attempt, delay, failure);
        try {
          sleeper.sleep(delay);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          failure.addSuppressed(e);
          throw failure;
        }
      }
    }
  }

  /**
   * Waits {@code delay} on this retrier's sleeper (real time in production, none or a test clock's
   * in tests): for a saga that polls a state it waits for. Returns false, with the thread's
   * interrupt flag set, when interrupted.
   */
  public boolean pause(Duration delay) {
    try {
      sleeper.sleep(delay);
      return true;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /** {@link #call} for a body without a result. */
  public void run(Operation op, Runnable body) {
    call(
        op,
        () -> {
          body.run();
          return null;
        });
  }

  /**
   * Processes batches in order as {@code batches} yields them, each with retries; a batch that
   * still fails is skipped and counted, and after the policy's number of consecutive failed batches
   * the job aborts with a {@link dev.durabledeploy.spi.exception.BatchAbortedException} naming the
   * batch.
   *
   * @return how many batches failed (and were skipped)
   */
  public <B> int forEachBatch(
      Operation op,
      java.util.Iterator<B> batches,
      java.util.function.Function<B, String> name,
      Consumer<B> work) {
    BatchFailureTracker tracker = policy.newBatchTracker();
    int failed = 0;
    int done = 0;
    while (batches.hasNext()) {
      B batch = batches.next();
      try {
        run(op, () -> work.accept(batch));
        tracker.success();
      } catch (RuntimeException e) {
        failed++;
        tracker.failure(name.apply(batch), e);
      }
      op.progress(++done, 0, name.apply(batch));
    }
    return failed;
  }
}
