package dev.durabledeploy.engine.temporal;

import io.temporal.activity.ActivityInterface;
import io.temporal.activity.ActivityMethod;
import java.util.Map;

/**
 * Internal (public only because Temporal proxies it): what the Temporal workflows ask of a worker.
 * Implemented by the engine, which holds the registered handlers and the client.
 */
@ActivityInterface
public interface RunActivities {

  /**
   * Runs the workflow's handler once. Returns the attempt number that succeeded; a failure is an
   * {@code ApplicationFailure} carrying its attempt number, non-retryable when the definition's
   * retry policy calls it permanent.
   */
  @ActivityMethod
  int execute(String runId, String workflow, String key, Map<String, String> input);

  /** Records a dead letter in the registry; returns once a listing shows it. */
  @ActivityMethod
  void deadLetter(DeadLetterWorkflow.Letter letter);

  /** Submits a scheduled workflow (a cron fire). */
  @ActivityMethod
  void submit(String workflow, Map<String, String> input);
}
