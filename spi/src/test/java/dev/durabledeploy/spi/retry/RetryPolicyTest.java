package dev.durabledeploy.spi.retry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.engine.EngineStatus;
import dev.durabledeploy.spi.exception.BatchAbortedException;
import dev.durabledeploy.spi.exception.ConfigurationException;
import dev.durabledeploy.spi.exception.DeployNotFoundException;
import dev.durabledeploy.spi.exception.EngineNotRunningException;
import dev.durabledeploy.spi.exception.EngineUnavailableException;
import dev.durabledeploy.spi.exception.InvalidInputException;
import dev.durabledeploy.spi.exception.RemoteCallException;
import dev.durabledeploy.spi.exception.TransientStoreException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.SocketTimeoutException;
import java.nio.file.NoSuchFileException;
import java.time.Duration;
import java.util.SplittableRandom;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

@DisplayName("RetryPolicy")
class RetryPolicyTest {

  private final RetryPolicy policy =
      RetryPolicy.defaults().withBackoff(Duration.ofMillis(100), Duration.ofSeconds(2), 2.0);

  @Nested
  @DisplayName("backoff")
  class Backoff {
    @Test
    @DisplayName("the ceiling grows exponentially and is capped at maxDelay")
    void ceilingGrowsAndCaps() {
      assertThat(policy.ceiling(1)).isEqualTo(Duration.ofMillis(100));
      assertThat(policy.ceiling(2)).isEqualTo(Duration.ofMillis(200));
      assertThat(policy.ceiling(5)).isEqualTo(Duration.ofMillis(1600));
      assertThat(policy.ceiling(6)).isEqualTo(Duration.ofSeconds(2));
      assertThat(policy.ceiling(10_000)).isEqualTo(Duration.ofSeconds(2));
    }

    @Test
    @DisplayName("full jitter draws uniformly within [0, ceiling] from the injected random")
    void fullJitter() {
      SplittableRandom random = new SplittableRandom(42);
      long below = 0;
      for (int i = 0; i < 10_000; i++) {
        Duration d = policy.delayBefore(3, random);
        assertThat(d).isBetween(Duration.ZERO, Duration.ofMillis(400));
        if (d.compareTo(Duration.ofMillis(200)) < 0) {
          below++;
        }
      }
      // Uniform: about half below the midpoint.
      assertThat(below).isBetween(4_700L, 5_300L);
      assertThat(policy.delayBefore(3, new SplittableRandom(1)))
          .isEqualTo(policy.delayBefore(3, new SplittableRandom(1)));
    }

    @Test
    @DisplayName("a zero initial delay never waits")
    void zeroDelay() {
      RetryPolicy immediate = policy.withBackoff(Duration.ZERO, Duration.ZERO, 1.0);
      assertThat(immediate.delayBefore(4, new SplittableRandom())).isZero();
    }

    @Test
    void retryNumbersStartAtOne() {
      assertThatThrownBy(() -> policy.ceiling(0)).isInstanceOf(IllegalArgumentException.class);
    }
  }

  @Nested
  @DisplayName("classification")
  class Classification {
    @Test
    @DisplayName("throttling, 5xx, timeouts and I/O errors are transient")
    void transientFailures() {
      assertThat(policy.isTransient(new RemoteCallException("s3", 429, "SlowDown", null))).isTrue();
      assertThat(policy.isTransient(new RemoteCallException("s3", 503, "SlowDown", null))).isTrue();
      assertThat(policy.isTransient(new RemoteCallException("s3", 500, "x", null))).isTrue();
      assertThat(policy.isTransient(new RemoteCallException("s3", 408, "x", null))).isTrue();
      assertThat(policy.isTransient(new TransientStoreException("pg down"))).isTrue();
      assertThat(policy.isTransient(new SocketTimeoutException())).isTrue();
      assertThat(policy.isTransient(new TimeoutException())).isTrue();
      assertThat(policy.isTransient(new IOException("reset"))).isTrue();
      assertThat(
              policy.isTransient(
                  new CompletionException(new UncheckedIOException(new IOException()))))
          .isTrue();
    }

    @ParameterizedTest
    @ValueSource(ints = {400, 401, 403, 404, 409, 412})
    @DisplayName("other 4xx answers are permanent")
    void fourXxIsPermanent(int status) {
      assertThat(policy.isTransient(new RemoteCallException("s3", status, "no", null))).isFalse();
    }

    @Test
    @DisplayName(
        "an engine that cannot reach its backend fails transiently; a stopped one does not")
    void engineFailures() {
      assertThat(policy.isTransient(new EngineUnavailableException("temporal down"))).isTrue();
      assertThat(
              policy.isTransient(
                  new CompletionException(new EngineUnavailableException("queue full"))))
          .isTrue();
      assertThat(policy.isTransient(new EngineNotRunningException(EngineStatus.STOPPED, "stopped")))
          .isFalse();
    }

    @Test
    @DisplayName("validation, domain errors and programming errors are permanent")
    void permanentFailures() {
      assertThat(policy.isTransient(new InvalidInputException("site", "bad"))).isFalse();
      assertThat(
              policy.isTransient(
                  new DeployNotFoundException(
                      SiteId.of("a"), DeployId.of("20260101-000000-abcdef0"))))
          .isFalse();
      assertThat(policy.isTransient(new NoSuchFileException("x"))).isFalse();
      assertThat(policy.isTransient(new IllegalStateException())).isFalse();
    }

    @Test
    @DisplayName("retries while attempts remain and the failure is transient")
    void shouldRetry() {
      RetryPolicy three = policy.withMaxAttempts(3);
      IOException io = new IOException();
      assertThat(three.shouldRetry(1, io)).isTrue();
      assertThat(three.shouldRetry(2, io)).isTrue();
      assertThat(three.shouldRetry(3, io)).isFalse();
      assertThat(three.shouldRetry(1, new IllegalArgumentException())).isFalse();
      assertThat(RetryPolicy.noRetry().shouldRetry(1, io)).isFalse();
    }

    @Test
    @DisplayName("a custom classifier replaces the default")
    void customClassifier() {
      RetryPolicy everything = policy.withClassifier(t -> true);
      assertThat(everything.isTransient(new IllegalStateException())).isTrue();
    }
  }

  @Nested
  @DisplayName("batch abort")
  class BatchAbort {
    @Test
    @DisplayName("aborts after three consecutive failures, naming the last batch")
    void abortsAfterThree() {
      BatchFailureTracker tracker = policy.newBatchTracker();
      tracker.failure("batch-1", new IOException("a"));
      tracker.failure("batch-2", new IOException("b"));
      assertThatThrownBy(() -> tracker.failure("batch-3", new IOException("c")))
          .isInstanceOf(BatchAbortedException.class)
          .hasMessageContaining("3 consecutive")
          .hasMessageContaining("batch-3")
          .extracting(e -> ((BatchAbortedException) e).batch())
          .isEqualTo("batch-3");
    }

    @Test
    @DisplayName("a success in between starts the count over")
    void successResets() {
      BatchFailureTracker tracker = policy.newBatchTracker();
      tracker.failure("1", new IOException());
      tracker.failure("2", new IOException());
      tracker.success();
      tracker.failure("3", new IOException());
      tracker.failure("4", new IOException());
      assertThat(tracker.consecutiveFailures()).isEqualTo(2);
    }
  }

  @Test
  @DisplayName("invalid settings fail with the property name")
  void validation() {
    assertThatThrownBy(() -> policy.withMaxAttempts(0))
        .isInstanceOf(ConfigurationException.class)
        .hasMessageContaining("maxAttempts");
    assertThatThrownBy(() -> policy.withBackoff(Duration.ofSeconds(2), Duration.ofSeconds(1), 2))
        .isInstanceOf(ConfigurationException.class)
        .hasMessageContaining("maxDelay");
    assertThatThrownBy(() -> policy.withBackoff(Duration.ZERO, Duration.ZERO, Double.NaN))
        .isInstanceOf(ConfigurationException.class)
        .hasMessageContaining("multiplier");
  }
}
