package dev.durabledeploy.engine.temporal;

import static dev.durabledeploy.engine.temporal.Errors.describe;

import dev.durabledeploy.spi.engine.EngineStatus;
import dev.durabledeploy.spi.exception.EngineNotRunningException;
import dev.durabledeploy.spi.exception.EngineUnavailableException;
import dev.durabledeploy.spi.support.Threads;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;

/**
 * Queries and updates of running workflows, which whichever worker holds the workflow answers.
 * Without a bound such a call waits as long as no worker answers (a worker that died still holding
 * the workflow, a task queue nobody polls), so each gives up after the query timeout.
 */
final class BoundedCalls {

  private final Duration timeout;
  private final String taskQueue;
  private final Supplier<EngineStatus> status;
  private final ExecutorService pool =
      Executors.newCachedThreadPool(Threads.daemon("temporal-query"));

  BoundedCalls(Duration timeout, String taskQueue, Supplier<EngineStatus> status) {
    this.timeout = timeout;
    this.taskQueue = taskQueue;
    this.status = status;
  }

  /**
   * The call's answer.
   *
   * @throws EngineUnavailableException when no worker answered within the timeout
   * @throws EngineNotRunningException when the engine is stopping or stopped
   */
  <T> T call(String what, Supplier<T> call) {
    refuseIfStopped(what);
    Future<T> answer;
    try {
      answer = pool.submit(call::get);
    } catch (RejectedExecutionException stopped) {
      throw notRunning(what);
    }
    try {
      return answer.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      answer.cancel(true);
      throw new EngineUnavailableException(
          "no Temporal worker answered "
              + what
              + " within "
              + timeout
              + "; check that a worker polls task queue '"
              + taskQueue
              + "' (a worker that just died is replaced after its sticky timeout)");
    } catch (ExecutionException e) {
      refuseIfStopped(what); // stop interrupted the call
      if (e.getCause() instanceof RuntimeException runtime) {
        throw runtime;
      }
      throw new EngineUnavailableException(
          what + " failed: " + describe(e.getCause()), e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      answer.cancel(true);
      throw new EngineUnavailableException("interrupted while waiting for " + what, e);
    }
  }

  /** Waits up to {@code grace} for calls under way, then interrupts them. */
  void stop(Duration grace) {
    Threads.shutdown(pool, grace);
  }

  private void refuseIfStopped(String what) {
    EngineStatus now = status.get();
    if (now == EngineStatus.STOPPING || now == EngineStatus.STOPPED) {
      throw notRunning(what);
    }
  }

  private EngineNotRunningException notRunning(String what) {
    return new EngineNotRunningException(
        status.get(), "the workflow engine is " + status.get() + "; it cannot ask for " + what);
  }
}
