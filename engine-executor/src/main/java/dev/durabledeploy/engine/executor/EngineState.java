package dev.durabledeploy.engine.executor;

import dev.durabledeploy.spi.engine.EngineStatus;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;

/**
 * The engine's one lock and its lifecycle status, shared by the engine's parts.
 *
 * <p>Lock: {@link #lock} guards every map and run field of every part ({@link FairQueue}, {@link
 * Runs}, {@link Debouncer}, {@link DeadLetters}, {@link CronSchedules}) and the status changes. It
 * serialises scheduling decisions (which key runs next), so runs of one key never overlap and keep
 * their order, and keys take round-robin turns. It is never held while a handler runs.
 */
final class EngineState {

  final ReentrantLock lock = new ReentrantLock();

  // Written under the lock; volatile so a handler's stop signal reads it without the lock.
  private volatile EngineStatus status = EngineStatus.NEW;

  EngineStatus status() {
    return status;
  }

  boolean running() {
    return status == EngineStatus.RUNNING;
  }

  /** Lock held, except for the last step of a stop, when nothing else changes it any more. */
  void set(EngineStatus next) {
    status = next;
  }

  <T> T locked(Supplier<T> body) {
    lock.lock();
    try {
      return body.get();
    } finally {
      lock.unlock();
    }
  }

  void lockedRun(Runnable body) {
    lock.lock();
    try {
      body.run();
    } finally {
      lock.unlock();
    }
  }
}
