package dev.durabledeploy.core.retry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.durabledeploy.core.events.Operations;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.events.OperationEvent;
import dev.durabledeploy.spi.exception.BatchAbortedException;
import dev.durabledeploy.spi.exception.RemoteCallException;
import dev.durabledeploy.spi.exception.SiteLockLostException;
import dev.durabledeploy.spi.exception.TransientStoreException;
import dev.durabledeploy.spi.lock.SiteLock;
import dev.durabledeploy.spi.lock.SiteLocks;
import dev.durabledeploy.spi.retry.RetryPolicy;
import dev.durabledeploy.testkit.RecordingEventBus;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

@DisplayName("Retrier")
class RetrierTest {

  private final RecordingEventBus bus = new RecordingEventBus();
  private final SimpleMeterRegistry meters = new SimpleMeterRegistry();
  private final List<Duration> slept = new ArrayList<>();
  private final Retrier retrier =
      new Retrier(
          RetryPolicy.defaults().withMaxAttempts(4), new SplittableRandom(3), slept::add, meters);
  private final Operations operations =
      new Operations(bus, meters, Clock.systemUTC(), new SplittableRandom(1));

  @Test
  @DisplayName("retries transient failures with jittered backoff, announcing each retry")
  void retriesTransient() {
    AtomicInteger calls = new AtomicInteger();
    String result =
        operations.run(
            "op",
            null,
            op ->
                retrier.call(
                    op,
                    () -> {
                      if (calls.incrementAndGet() < 3) {
                        throw new RemoteCallException("s3", 503, "SlowDown", null);
                      }
                      return "ok";
                    }));
    assertThat(result).isEqualTo("ok");
    assertThat(calls.get()).isEqualTo(3);
    assertThat(slept).hasSize(2);
    assertThat(slept.get(0)).isLessThanOrEqualTo(Duration.ofMillis(200));
    assertThat(slept.get(1)).isLessThanOrEqualTo(Duration.ofMillis(400));
    assertThat(bus.events(OperationEvent.Retrying.class))
        .extracting(OperationEvent.Retrying::nextAttempt)
        .containsExactly(2, 3);
    assertThat(meters.get("durable.retries").tag("operation", "op").counter().count()).isEqualTo(2);
  }

  @Test
  @DisplayName("a permanent failure is thrown at once; an exhausted one after maxAttempts")
  void permanentAndExhausted() {
    AtomicInteger calls = new AtomicInteger();
    assertThatThrownBy(
            () ->
                operations.run(
                    "op",
                    null,
                    op ->
                        retrier.call(
                            op,
                            () -> {
                              calls.incrementAndGet();
                              throw new RemoteCallException("s3", 403, "AccessDenied", null);
                            })))
        .isInstanceOf(RemoteCallException.class);
    assertThat(calls.get()).isEqualTo(1);
    calls.set(0);
    assertThatThrownBy(
            () ->
                operations.run(
                    "op",
                    null,
                    op ->
                        retrier.call(
                            op,
                            () -> {
                              calls.incrementAndGet();
                              throw new TransientStoreException("down");
                            })))
        .isInstanceOf(TransientStoreException.class);
    assertThat(calls.get()).isEqualTo(4);
  }

  @Test
  @DisplayName("batched work aborts after three consecutive failed batches, naming the batch")
  void batchAbort() {
    List<String> done = new ArrayList<>();
    Retrier once = new Retrier(RetryPolicy.noRetry(), new SplittableRandom(), d -> {}, meters);
    assertThatThrownBy(
            () ->
                operations.run(
                    "gc",
                    null,
                    op ->
                        once.forEachBatch(
                            op,
                            List.of("b1", "b2", "b3", "b4", "b5", "b6").iterator(),
                            b -> b,
                            b -> {
                              if (!b.equals("b1") && !b.equals("b3")) {
                                throw new IllegalStateException("fails " + b);
                              }
                              done.add(b);
                            })))
        .isInstanceOfSatisfying(
            BatchAbortedException.class, e -> assertThat(e.batch()).isEqualTo("b6"));
    assertThat(done).containsExactly("b1", "b3");
  }

  @Test
  void backgroundWorkflowsOutlastAnOutageThatInteractiveCallsGiveUpOn() {
    // Found by the reliability harness: a PostgreSQL restart of a few seconds dead-lettered gc-site
    // runs, which then waited in memory for the next change of their site.
    RetryPolicy interactive = retrier.policy();
    RetryPolicy background = retrier.workflowPolicy();
    assertThat(background.maxAttempts())
        .isGreaterThanOrEqualTo(Retrier.MIN_WORKFLOW_ATTEMPTS)
        .isGreaterThan(interactive.maxAttempts());
    assertThat(background.withMaxAttempts(interactive.maxAttempts())).isEqualTo(interactive);
    Retrier patient =
        new Retrier(
            RetryPolicy.defaults().withMaxAttempts(40), new SplittableRandom(), d -> {}, meters);
    assertThat(patient.workflowPolicy().maxAttempts()).isEqualTo(40);
  }

  /** Site locks whose held lock the test can take away, as an outage or a pause would. */
  private static final class LosableLocks implements SiteLocks {
    final AtomicBoolean held = new AtomicBoolean();
    final AtomicInteger released = new AtomicInteger();

    @Override
    public SiteLock acquire(SiteId site, Duration timeout) {
      held.set(true);
      return new SiteLock() {
        @Override
        public SiteId site() {
          return site;
        }

        @Override
        public boolean isHeld() {
          return held.get();
        }

        @Override
        public void close() {
          released.incrementAndGet();
          held.set(false);
        }
      };
    }
  }

  @Test
  @DisplayName(
      "a step of an operation whose site lock is lost does not start; the lost lock is named")
  void fencedStepNeverStarts() {
    LosableLocks locks = new LosableLocks();
    SiteId site = SiteId.of("fenced");
    List<String> done = new ArrayList<>();
    assertThatThrownBy(
            () ->
                operations.run(
                    "finalize",
                    site,
                    op -> {
                      try (SiteLock lock = op.lockSite(locks, site, Duration.ofSeconds(1))) {
                        retrier.run(op, () -> done.add("marker"));
                        locks.held.set(false); // the store lost the lock: TTL ran out meanwhile
                        retrier.run(op, () -> done.add("commit"));
                        return null;
                      }
                    }))
        .isInstanceOfSatisfying(
            SiteLockLostException.class,
            e -> {
              assertThat(e.site()).isEqualTo(site);
              assertThat(e.operation()).isEqualTo("finalize");
              assertThat(e.getMessage()).contains("'fenced'").contains("Run the operation again");
            });
    assertThat(done).containsExactly("marker");
    assertThat(locks.released.get()).isEqualTo(1);
    assertThat(bus.events(OperationEvent.Failed.class)).hasSize(1);
  }

  @Test
  @DisplayName("a step that failed transiently is not retried once the lock is lost meanwhile")
  void lostLockStopsRetries() {
    LosableLocks locks = new LosableLocks();
    SiteId site = SiteId.of("fenced");
    AtomicInteger attempts = new AtomicInteger();
    assertThatThrownBy(
            () ->
                operations.run(
                    "gc",
                    site,
                    op -> {
                      try (SiteLock lock = op.lockSite(locks, site, Duration.ofSeconds(1))) {
                        return retrier.call(
                            op,
                            () -> {
                              attempts.incrementAndGet();
                              locks.held.set(false);
                              throw new TransientStoreException("the move timed out");
                            });
                      }
                    }))
        .isInstanceOf(SiteLockLostException.class)
        .satisfies(
            e ->
                assertThat(e.getSuppressed())
                    .singleElement()
                    .isInstanceOf(TransientStoreException.class));
    assertThat(attempts.get()).isEqualTo(1);
    assertThat(slept).isEmpty();
  }

  @Test
  @DisplayName("after the locked part of an operation, its later steps are not fenced by that lock")
  void fenceEndsWithTheLock() {
    LosableLocks locks = new LosableLocks();
    SiteId site = SiteId.of("fenced");
    String result =
        operations.run(
            "purge",
            null,
            op -> {
              try (SiteLock lock = op.lockSite(locks, site, Duration.ofSeconds(1))) {
                retrier.run(op, () -> {});
              }
              return retrier.call(op, () -> "after the lock");
            });
    assertThat(result).isEqualTo("after the lock");
  }
}
