package dev.durabledeploy.testkit.tck;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.durabledeploy.spi.SiteBusyException;
import dev.durabledeploy.spi.lock.SiteLock;
import dev.durabledeploy.spi.lock.SiteLocks;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** The contract of {@link SiteLocks}: mutual exclusion per site with a bounded wait (E1). */
public abstract class SiteLocksContract extends StoreFixture {

  protected SiteLocks locks;

  @BeforeEach
  void locks() {
    locks = store.siteLocks();
  }

  /** Runs {@code body} on a fresh thread (locks may be bound to their acquiring thread). */
  private static <T> T onOtherThread(java.util.concurrent.Callable<T> body) throws Exception {
    ExecutorService other = Executors.newSingleThreadExecutor();
    try {
      return other.submit(body).get(60, TimeUnit.SECONDS);
    } finally {
      other.shutdownNow();
    }
  }

  @Test
  @DisplayName("a held lock reports held until closed; closing twice is harmless")
  void heldUntilClosed() {
    SiteLock lock = locks.acquire(SITE, Duration.ofSeconds(5));
    assertThat(lock.site()).isEqualTo(SITE);
    assertThat(lock.isHeld()).isTrue();
    lock.close();
    assertThat(lock.isHeld()).isFalse();
    lock.close();
    try (SiteLock again = locks.acquire(SITE, Duration.ZERO)) {
      assertThat(again.isHeld()).isTrue();
    }
  }

  @Test
  @DisplayName("a contended caller gets SiteBusyException after its timeout, within 20% (E1)")
  void contentionTimesOut() throws Exception {
    Duration timeout = Duration.ofMillis(1000);
    try (SiteLock held = locks.acquire(SITE, Duration.ofSeconds(5))) {
      long elapsedNanos =
          onOtherThread(
              () -> {
                long start = System.nanoTime();
                assertThatThrownBy(() -> locks.acquire(SITE, timeout))
                    .isInstanceOfSatisfying(
                        SiteBusyException.class,
                        e -> {
                          assertThat(e.site()).isEqualTo(SITE);
                          assertThat(e.timeout()).isEqualTo(timeout);
                        });
                return System.nanoTime() - start;
              });
      assertThat(Duration.ofNanos(elapsedNanos))
          .isGreaterThanOrEqualTo(timeout.multipliedBy(95).dividedBy(100))
          .isLessThanOrEqualTo(timeout.multipliedBy(120).dividedBy(100));
      assertThat(held.isHeld()).isTrue();
    }
  }

  @Test
  @DisplayName("a waiting caller gets the lock as soon as the holder releases it")
  void waiterGetsLockOnRelease() throws Exception {
    SiteLock held = locks.acquire(SITE, Duration.ofSeconds(5));
    CountDownLatch waiting = new CountDownLatch(1);
    CompletableFuture<Boolean> waiter =
        CompletableFuture.supplyAsync(
            () -> {
              waiting.countDown();
              try (SiteLock lock = locks.acquire(SITE, Duration.ofSeconds(30))) {
                return lock.isHeld();
              }
            });
    assertThat(waiting.await(10, TimeUnit.SECONDS)).isTrue();
    assertThat(waiter).isNotDone();
    held.close();
    assertThat(waiter.get(30, TimeUnit.SECONDS)).isTrue();
  }

  @Test
  @DisplayName("different sites never block each other")
  void sitesAreIndependent() throws Exception {
    try (SiteLock a = locks.acquire(SITE, Duration.ofSeconds(5))) {
      boolean other =
          onOtherThread(
              () -> {
                try (SiteLock b = locks.acquire(OTHER_SITE, Duration.ZERO)) {
                  return b.isHeld();
                }
              });
      assertThat(other).isTrue();
      assertThat(a.isHeld()).isTrue();
    }
  }

  @Test
  @DisplayName("8 threads incrementing a plain counter under the lock lose no increment")
  void mutualExclusion() throws Exception {
    int threads = 8;
    int each = 50;
    int[] counter = {0};
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      List<Future<?>> futures = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        futures.add(
            pool.submit(
                () -> {
                  for (int i = 0; i < each; i++) {
                    try (SiteLock lock = locks.acquire(SITE, Duration.ofSeconds(30))) {
                      int read = counter[0];
                      Thread.yield();
                      counter[0] = read + 1;
                    }
                  }
                  return null;
                }));
      }
      for (Future<?> f : futures) {
        f.get(120, TimeUnit.SECONDS);
      }
    } finally {
      pool.shutdownNow();
    }
    synchronized (counter) {
      assertThat(counter[0]).isEqualTo(threads * each);
    }
  }
}
