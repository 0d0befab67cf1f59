package dev.durabledeploy.engine.temporal;

import dev.durabledeploy.spi.engine.EngineStatus;
import dev.durabledeploy.spi.exception.EngineNotRunningException;
import dev.durabledeploy.spi.support.Threads;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.Supplier;

/**
 * One lane per key workflow: a lane's tasks run one after another, in the order they were handed
 * in, so submissions of one key reach Temporal in submission order; different lanes run in parallel
 * on a bounded pool.
 */
final class KeyLanes {

  // The tail of each lane; a lane whose tail completed is removed, so idle keys cost nothing.
  private final Map<String, CompletableFuture<Void>> lanes = new ConcurrentHashMap<>();
  private final Set<CompletableFuture<?>> pending = ConcurrentHashMap.newKeySet();
  private final ExecutorService pool;
  private final Executor handOver;

  KeyLanes(int threads) {
    this.pool = Executors.newFixedThreadPool(threads, Threads.daemon("temporal-submit"));
    // A lane's next task may be handed over after stop shut the pool: it then runs (and is
    // refused) on the completing thread instead of being lost.
    this.handOver =
        task -> {
          try {
            pool.execute(task);
          } catch (RejectedExecutionException stopped) {
            task.run();
          }
        };
  }

  /** Runs {@code body} after every earlier task of the same lane, on the pool. */
  <T> CompletableFuture<T> run(String lane, Supplier<T> body) {
    CompletableFuture<T> result = new CompletableFuture<>();
    pending.add(result);
    result.whenComplete((x, e) -> pending.remove(result));
    CompletableFuture<?>[] mine = new CompletableFuture<?>[1];
    lanes.compute(
        lane,
        (k, tail) -> {
          CompletableFuture<Void> previous =
              tail == null ? CompletableFuture.completedFuture(null) : tail;
          CompletableFuture<Void> next =
              previous.thenRunAsync(
                  () -> {
                    try {
                      result.complete(body.get());
                    } catch (RuntimeException e) {
                      result.completeExceptionally(e);
                    }
                  },
                  handOver);
          mine[0] = next;
          return next;
        });
    mine[0].whenComplete((x, e) -> lanes.remove(lane, mine[0]));
    return result;
  }

  /**
   * Stops the pool, waiting up to {@code grace} for tasks already handed in, and fails what is
   * left, so no submission's stage stays incomplete after the engine stopped.
   */
  void stop(Duration grace) {
    Threads.shutdown(pool, grace);
    for (CompletableFuture<?> left : pending) {
      left.completeExceptionally(
          new EngineNotRunningException(
              EngineStatus.STOPPING,
              "the workflow engine stopped before this submission reached Temporal; submit it"
                  + " again to an engine that runs"));
    }
  }
}
