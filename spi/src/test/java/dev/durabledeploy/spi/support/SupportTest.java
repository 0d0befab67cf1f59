package dev.durabledeploy.spi.support;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.durabledeploy.spi.exception.ConfigurationException;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

class SupportTest {

  @Test
  @DisplayName("threads are daemons named after what they do, numbered in creation order")
  void daemonThreads() {
    var factory = Threads.daemon("durable-test");
    Thread first = factory.newThread(() -> {});
    Thread second = factory.newThread(() -> {});
    assertThat(first.isDaemon()).isTrue();
    assertThat(first.getName()).isEqualTo("durable-test-1");
    assertThat(second.getName()).isEqualTo("durable-test-2");
    assertThat(Threads.daemonNamed("durable-one").newThread(() -> {}).getName())
        .isEqualTo("durable-one");
    assertThatThrownBy(() -> Threads.daemon(" ")).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  @DisplayName("shutdown lets running tasks finish, and interrupts those that outlive the grace")
  void shutdown() throws Exception {
    ExecutorService finishing = Executors.newSingleThreadExecutor(Threads.daemon("finishing"));
    CountDownLatch ran = new CountDownLatch(1);
    finishing.submit(ran::countDown);
    assertThat(Threads.shutdown(finishing, Duration.ofSeconds(5))).isTrue();
    assertThat(ran.await(0, TimeUnit.SECONDS)).isTrue();

    ExecutorService stuck = Executors.newSingleThreadExecutor(Threads.daemon("stuck"));
    CountDownLatch started = new CountDownLatch(1);
    CountDownLatch interrupted = new CountDownLatch(1);
    stuck.submit(
        () -> {
          started.countDown();
          try {
            new CountDownLatch(1).await();
          } catch (InterruptedException e) {
            interrupted.countDown();
          }
        });
    assertThat(started.await(5, TimeUnit.SECONDS)).isTrue();
    assertThat(Threads.shutdown(stuck, Duration.ofMillis(50))).isTrue();
    assertThat(interrupted.getCount()).isZero();
  }

  @Test
  @DisplayName("every configuration check names the property, what it must be and what it was")
  void config() {
    assertThat(Config.requirePositive("ttl", Duration.ofSeconds(1))).hasSeconds(1);
    assertThatThrownBy(() -> Config.requirePositive("ttl", Duration.ZERO))
        .isInstanceOfSatisfying(
            ConfigurationException.class, e -> assertThat(e.property()).isEqualTo("ttl"))
        .hasMessageContaining("must be positive");
    assertThatThrownBy(() -> Config.requireNotNegative("grace", Duration.ofSeconds(-1)))
        .hasMessageContaining("'grace'")
        .hasMessageContaining("PT-1S");
    assertThatThrownBy(() -> Config.require("clock", null)).hasMessageContaining("is required");
    assertThatThrownBy(() -> Config.requireText("namespace", "  "))
        .hasMessageContaining("not be blank");
    assertThatThrownBy(() -> Config.requireText("taskQueue", "q".repeat(201), 200))
        .hasMessageContaining("at most 200 characters long, was 201");
    assertThat(Config.requireText("taskQueue", "q".repeat(200), 200)).hasSize(200);
    assertThatThrownBy(() -> Config.requireAtLeast("batchSize", 0, 1))
        .hasMessageContaining("at least 1, was 0");
    assertThatThrownBy(() -> Config.requireRange("limit", 1001, 1, 1000))
        .hasMessageContaining("between 1 and 1000, was 1001");
    assertThat(Config.requireRange("limit", 1000, 1, 1000)).isEqualTo(1000);
  }
}
