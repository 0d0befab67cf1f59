package dev.durabledeploy.spi.support;

import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The library's one way to make background threads and to stop them. Every thread is a daemon (a
 * host's JVM never waits for the library's threads to exit) and carries a name that says which part
 * of the library it belongs to, so a thread dump taken at 3 a.m. reads without a map.
 */
public final class Threads {

  private Threads() {}

  /**
   * A factory of daemon threads named {@code <name>-1}, {@code <name>-2}, ... in creation order.
   *
   * @param name what the threads do, e.g. {@code "durable-engine"}; not blank
   */
  public static ThreadFactory daemon(String name) {
    requireName(name);
    AtomicInteger next = new AtomicInteger(1);
    return r -> named(r, name + "-" + next.getAndIncrement());
  }

  /** A factory of daemon threads that all carry exactly {@code name} (for a single thread). */
  public static ThreadFactory daemonNamed(String name) {
    requireName(name);
    return r -> named(r, name);
  }

  /** Starts {@code body} on a new daemon thread called {@code name} and returns the thread. */
  public static Thread startDaemon(String name, Runnable body) {
    Objects.requireNonNull(body, "body");
    Thread t = daemonNamed(name).newThread(body);
    t.start();
    return t;
  }

  /**
   * Stops an executor: no new tasks, then up to {@code grace} for running ones to finish, then an
   * interrupt for the rest, and up to {@code grace} once more for them to notice. An interrupt of
   * the calling thread cuts the wait short and is kept (the caller sees its interrupt flag set).
   *
   * @return true when every task had finished by the time this returns
   */
  public static boolean shutdown(ExecutorService executor, Duration grace) {
    Objects.requireNonNull(executor, "executor");
    Objects.requireNonNull(grace, "grace");
    long millis = Math.max(0, grace.toMillis());
    executor.shutdown();
    try {
      if (executor.awaitTermination(millis, TimeUnit.MILLISECONDS)) {
        return true;
      }
      executor.shutdownNow();
      return executor.awaitTermination(millis, TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      executor.shutdownNow();
      Thread.currentThread().interrupt();
      return executor.isTerminated();
    }
  }

  private static Thread named(Runnable r, String name) {
    Thread t = new Thread(r, name);
    t.setDaemon(true);
    return t;
  }

  private static void requireName(String name) {
    if (name == null || name.isBlank()) {
      throw new IllegalArgumentException("a thread name is required");
    }
  }
}
