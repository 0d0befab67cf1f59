package dev.durabledeploy.engine.temporal;

import static dev.durabledeploy.engine.temporal.Errors.describe;

import dev.durabledeploy.spi.engine.RunContext;
import dev.durabledeploy.spi.engine.RunHandle;
import dev.durabledeploy.spi.engine.RunId;
import dev.durabledeploy.spi.engine.Submission;
import dev.durabledeploy.spi.engine.WorkflowDefinition;
import io.temporal.activity.Activity;
import io.temporal.activity.ActivityExecutionContext;
import io.temporal.failure.ApplicationFailure;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the Temporal workflows ask of this engine's worker: run a handler once (heartbeating while
 * it runs, so a run whose worker dies is retried elsewhere after the heartbeat timeout), record a
 * dead letter, submit a cron fire.
 */
final class Activities implements RunActivities {

  private static final Logger LOG = LoggerFactory.getLogger(Activities.class);

  private final Map<String, WorkflowDefinition> definitions;
  private final ScheduledExecutorService heartbeats;
  private final Duration heartbeatTimeout;
  private final BooleanSupplier stopping;
  private final DeadLetters deadLetters;
  private final Function<Submission, CompletionStage<RunHandle>> submit;

  Activities(
      Map<String, WorkflowDefinition> definitions,
      ScheduledExecutorService heartbeats,
      Duration heartbeatTimeout,
      BooleanSupplier stopping,
      DeadLetters deadLetters,
      Function<Submission, CompletionStage<RunHandle>> submit) {
    this.definitions = definitions;
    this.heartbeats = heartbeats;
    this.heartbeatTimeout = heartbeatTimeout;
    this.stopping = stopping;
    this.deadLetters = deadLetters;
    this.submit = submit;
  }

  @Override
  public int execute(String runId, String workflow, String key, Map<String, String> input) {
    ActivityExecutionContext context = Activity.getExecutionContext();
    int attempt = context.getInfo().getAttempt();
    WorkflowDefinition definition = definitions.get(workflow);
    if (definition == null) {
      // Another host's version knows it: retryable, so a worker that has it takes the run.
      throw ApplicationFailure.newFailure(
          "workflow '" + workflow + "' is not registered on this worker", "NotRegistered", attempt);
    }
    long beat = Math.max(50, heartbeatTimeout.toMillis() / 3);
    ScheduledFuture<?> heartbeat =
        heartbeats.scheduleAtFixedRate(() -> heartbeat(context), beat, beat, TimeUnit.MILLISECONDS);
    try {
      definition
          .handler()
          .run(RunContext.of(new RunId(runId), workflow, input, key, attempt, stopping));
      return attempt;
    } catch (Exception e) {
      if (e instanceof InterruptedException) {
        Thread.currentThread().interrupt();
      }
      String error = describe(e);
      if (stopping.getAsBoolean()) {
        throw ApplicationFailure.newFailure("worker stopped: " + error, "WorkerStopped", attempt);
      }
      if (!definition.retryPolicy().isTransient(e)) {
        throw ApplicationFailure.newNonRetryableFailure(error, e.getClass().getName(), attempt);
      }
      throw ApplicationFailure.newFailure(error, e.getClass().getName(), attempt);
    } finally {
      heartbeat.cancel(false);
    }
  }

  private void heartbeat(ActivityExecutionContext context) {
    try {
      context.heartbeat(null);
    } catch (RuntimeException e) {
      LOG.debug("heartbeat failed: {}", describe(e));
    }
  }

  @Override
  public void deadLetter(DeadLetterWorkflow.Letter letter) {
    deadLetters.add(letter);
  }

  @Override
  public void submit(String workflow, Map<String, String> input) {
    submit
        .apply(Submission.of(workflow, input))
        .toCompletableFuture()
        .orTimeout(1, TimeUnit.MINUTES)
        .join();
  }
}
