package dev.durabledeploy.engine.executor;

import dev.durabledeploy.spi.support.Threads;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;

/**
 * The engine's threads: the workers that run attempts (virtual threads on JDK 21+, platform daemon
 * threads otherwise) and one timer thread for debounce fires, retry delays and cron fires.
 */
final class WorkerThreads {

  /** How long a worker interrupted at the stop deadline gets to notice. */
  private static final Duration INTERRUPT_GRACE = Duration.ofSeconds(5);

  /**
   * A factory of virtual threads when the JVM has them, else null. The library targets Java 17, so
   * the JDK 21 API is looked up at run time, once.
   */
  private static final ThreadFactory VIRTUAL_THREADS = virtualThreads();

  private final ThreadFactory workerFactory;
  private final int workerCount;
  private final List<Thread> workers = new ArrayList<>();
  private final ScheduledThreadPoolExecutor timer;

  /** {@code workers} is the configured count, or 0 for the default. */
  WorkerThreads(int workers) {
    this.workerFactory =
        VIRTUAL_THREADS != null ? VIRTUAL_THREADS : Threads.daemon("durable-engine");
    this.workerCount = workers > 0 ? workers : defaultWorkers(VIRTUAL_THREADS != null);
    // Starts its thread with the first task, which only a running engine schedules.
    this.timer = new ScheduledThreadPoolExecutor(1, Threads.daemonNamed("durable-engine-timer"));
    // A stopped engine fires nothing: pending debounces, retries and cron fires are dropped.
    timer.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
  }

  int count() {
    return workerCount;
  }

  boolean virtual() {
    return VIRTUAL_THREADS != null;
  }

  /** Starts the workers, each running {@code loop} until it returns. */
  void start(Runnable loop) {
    for (int i = 0; i < workerCount; i++) {
      Thread worker = workerFactory.newThread(loop);
      workers.add(worker);
      worker.start();
    }
  }

  ScheduledFuture<?> schedule(Runnable task, long delayNanos) {
    return timer.schedule(task, Math.max(0, delayNanos), TimeUnit.NANOSECONDS);
  }

  /**
   * Waits for the workers until {@code deadline} has passed, interrupts those still running an
   * attempt and gives them {@link #INTERRUPT_GRACE} to notice; then stops the timer.
   */
  void stop(Duration deadline) {
    long until = System.nanoTime() + deadline.toNanos();
    for (Thread worker : workers) {
      joinUntil(worker, until);
    }
    for (Thread worker : workers) {
      if (worker.isAlive()) {
        worker.interrupt();
        joinUntil(worker, System.nanoTime() + INTERRUPT_GRACE.toNanos());
      }
    }
    Threads.shutdown(timer, INTERRUPT_GRACE);
  }

  private static void joinUntil(Thread thread, long untilNanos) {
    long remaining = untilNanos - System.nanoTime();
    try {
      if (remaining > 0) {
        TimeUnit.NANOSECONDS.timedJoin(thread, remaining);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static ThreadFactory virtualThreads() {
    try {
      Object builder = Thread.class.getMethod("ofVirtual").invoke(null);
      Class<?> builderType = Class.forName("java.lang.Thread$Builder");
      builder =
          builderType
              .getMethod("name", String.class, long.class)
              .invoke(builder, "durable-engine-", 0L);
      return (ThreadFactory) builderType.getMethod("factory").invoke(builder);
    } catch (ReflectiveOperationException | RuntimeException notAvailable) {
      return null;
    }
  }

  private static int defaultWorkers(boolean virtual) {
    int cores = Runtime.getRuntime().availableProcessors();
    return virtual ? 64 : Math.max(4, 2 * cores);
  }
}
