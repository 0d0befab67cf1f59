package dev.durabledeploy.benchmarks;

import dev.durabledeploy.engine.executor.ExecutorEngine;
import dev.durabledeploy.spi.engine.Submission;
import dev.durabledeploy.spi.engine.WorkflowDefinition;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * Fairness of {@link ExecutorEngine}: a heavy key with 10,000 queued runs of ~50 µs each, then a
 * light key with one run; how long the light run waits from submission to completion. Repeated, the
 * maximum reported.
 */
final class FairnessHarness {

  private FairnessHarness() {}

  /** Returns the worst wait of the light key, in milliseconds, over {@code rounds}. */
  static double maxLightWaitMillis(int rounds) {
    double worst = 0;
    for (int round = 0; round < rounds; round++) {
      ExecutorEngine engine = ExecutorEngine.builder().workers(4).build();
      engine.register(
          WorkflowDefinition.named("work")
              .keyedBy("key")
              .handler(
                  ctx -> {
                    if (ctx.concurrencyKey().equals("heavy")) {
                      LockSupport.parkNanos(50_000);
                    }
                  }));
      engine.start();
      for (int i = 0; i < 10_000; i++) {
        engine.submit(Submission.of("work", Map.of("key", "heavy")));
      }
      long start = System.nanoTime();
      engine
          .submit(Submission.of("work", Map.of("key", "light")))
          .toCompletableFuture()
          .orTimeout(60, TimeUnit.SECONDS)
          .join();
      worst = Math.max(worst, (System.nanoTime() - start) / 1e6);
      engine.stop(java.time.Duration.ofSeconds(1));
    }
    return worst;
  }
}
