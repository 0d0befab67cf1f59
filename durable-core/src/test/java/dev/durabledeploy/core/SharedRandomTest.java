package dev.durabledeploy.core;

import static org.assertj.core.api.Assertions.assertThat;

import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.store.memory.InMemoryBlobStore;
import dev.durabledeploy.store.memory.InMemoryStore;
import dev.durabledeploy.store.memory.InMemoryWorkflowEngine;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.random.RandomGenerator;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

@DisplayName("DurableDeploy's randomness is safe to share between threads")
class SharedRandomTest {

  /**
   * A generator that is not thread-safe and notices it: the first call waits (up to 5 s) for a
   * second caller to come in while it is still inside, which only a caller that does not serialise
   * access lets happen.
   */
  static final class OverlapDetector implements RandomGenerator {
    final AtomicInteger inside = new AtomicInteger();
    final AtomicBoolean overlapped = new AtomicBoolean();
    final AtomicBoolean firstTaken = new AtomicBoolean();
    final CountDownLatch secondArrived = new CountDownLatch(1);
    long state = 42;

    @Override
    public long nextLong() {
      if (inside.incrementAndGet() > 1) {
        overlapped.set(true);
        secondArrived.countDown();
      }
      try {
        if (firstTaken.compareAndSet(false, true)) {
          secondArrived.await(5, TimeUnit.SECONDS);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      state = state * 6364136223846793005L + 1442695040888963407L;
      inside.decrementAndGet();
      return state;
    }
  }

  @Test
  @DisplayName("an injected generator is never entered by two threads at once")
  void injectedGeneratorIsSerialised() throws Exception {
    OverlapDetector random = new OverlapDetector();
    try (DurableDeploy plane =
        DurableDeploy.builder()
            .store(new InMemoryStore())
            .blobStore(new InMemoryBlobStore())
            .engine(new InMemoryWorkflowEngine())
            .random(random)
            .build()) {
      CompletableFuture<Deploy> a =
          CompletableFuture.supplyAsync(() -> plane.deploys().init(SiteId.of("site-a"), null));
      CompletableFuture<Deploy> b =
          CompletableFuture.supplyAsync(() -> plane.deploys().init(SiteId.of("site-b"), null));
      assertThat(a.get(30, TimeUnit.SECONDS).id()).isNotEqualTo(b.get(30, TimeUnit.SECONDS).id());
    }
    assertThat(random.overlapped).isFalse();
  }
}
