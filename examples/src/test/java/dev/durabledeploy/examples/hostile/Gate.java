package dev.durabledeploy.examples.hostile;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/** A point a thread parks at until the test opens it; the test can wait for the arrival. */
final class Gate implements Runnable {

  private final CountDownLatch arrived = new CountDownLatch(1);
  private final CountDownLatch open = new CountDownLatch(1);
  private final Duration deadline;

  Gate() {
    this(Duration.ofSeconds(60));
  }

  Gate(Duration deadline) {
    this.deadline = deadline;
  }

  /** Parks the calling thread (the hook). */
  @Override
  public void run() {
    arrived.countDown();
    try {
      if (!open.await(deadline.toMillis(), TimeUnit.MILLISECONDS)) {
        throw new IllegalStateException("gate never opened");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted at the gate", e);
    }
  }

  void awaitArrival(Duration timeout) {
    try {
      if (!arrived.await(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        throw new AssertionError("nobody reached the gate within " + timeout);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }

  boolean arrived() {
    return arrived.getCount() == 0;
  }

  void open() {
    open.countDown();
  }
}
