package dev.durabledeploy.engine.temporal;

import static dev.durabledeploy.engine.temporal.Errors.describe;

import dev.durabledeploy.spi.engine.EngineStatus;
import dev.durabledeploy.spi.engine.RunHandle;
import dev.durabledeploy.spi.engine.RunId;
import dev.durabledeploy.spi.engine.Submission;
import dev.durabledeploy.spi.engine.WorkflowDefinition;
import dev.durabledeploy.spi.exception.DurableDeployException;
import dev.durabledeploy.spi.exception.EngineNotRunningException;
import dev.durabledeploy.spi.exception.EngineUnavailableException;
import dev.durabledeploy.spi.retry.RetryPolicy;
import io.temporal.api.enums.v1.WorkflowIdConflictPolicy;
import io.temporal.client.UpdateOptions;
import io.temporal.client.WithStartWorkflowOperation;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowOptions;
import io.temporal.client.WorkflowUpdateStage;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;

/**
 * A submission's way into Temporal: an update-with-start of its key workflow, sent in the key's
 * lane. The update's stage completes once Temporal has recorded the run, which is when the outbox
 * relay acknowledges the event (E3). A submission's idempotency key becomes its run id, which the
 * key workflow answers with the run it already knows.
 */
final class Submitter {

  /** Sends of one submission before it fails as unavailable. */
  private static final int SEND_ATTEMPTS = 3;

  /** What a key workflow is started with: everything but the run it is started for. */
  record KeyTimes(
      Duration runTimeout,
      Duration heartbeatTimeout,
      Duration keyIdleTimeout,
      int retainedRuns,
      int historyLimit) {}

  private final WorkflowClient client;
  private final String taskQueue;
  private final String target;
  private final WorkflowIds ids;
  private final KeyLanes lanes;
  private final KeyTimes times;
  private final Supplier<EngineStatus> status;

  Submitter(
      WorkflowClient client,
      String taskQueue,
      String target,
      WorkflowIds ids,
      KeyLanes lanes,
      KeyTimes times,
      Supplier<EngineStatus> status) {
    this.client = client;
    this.taskQueue = taskQueue;
    this.target = target;
    this.ids = ids;
    this.lanes = lanes;
    this.times = times;
    this.status = status;
  }

  /**
   * Sends the run in its key's lane; {@code refusal} is asked again when its turn comes, since the
   * engine may have stopped while the run waited.
   */
  CompletableFuture<RunHandle> submit(
      WorkflowDefinition definition,
      Submission submission,
      Supplier<Optional<DurableDeployException>> refusal) {
    String key = definition.keyOf(submission.input());
    WorkflowIds.RunAddress address = WorkflowIds.RunAddress.of(definition.name(), key);
    KeyWorkflow.Run run = run(definition, submission, address, key);
    String workflowId = ids.keyWorkflow(address);
    return lanes.run(
        workflowId,
        () -> {
          refusal
              .get()
              .ifPresent(
                  e -> {
                    throw e;
                  });
          KeyWorkflow.Accepted accepted = accept(workflowId, definition.name(), key, run);
          return new RunHandle(
              new RunId(accepted.runId()), definition.name(), accepted.deduplicated());
        });
  }

  private KeyWorkflow.Run run(
      WorkflowDefinition definition,
      Submission submission,
      WorkflowIds.RunAddress address,
      String key) {
    String uuid =
        submission.idempotencyKey() == null
            ? UUID.randomUUID().toString()
            : UUID.nameUUIDFromBytes(
                    submission.scopedIdempotencyKey().getBytes(StandardCharsets.UTF_8))
                .toString();
    RetryPolicy policy = definition.retryPolicy();
    KeyWorkflow.Run run = new KeyWorkflow.Run();
    run.id = address.runId(uuid);
    run.workflow = definition.name();
    run.key = key;
    run.input = submission.input();
    run.retry =
        new KeyWorkflow.RetrySpec(
            policy.maxAttempts(),
            policy.initialDelay().toMillis(),
            policy.maxDelay().toMillis(),
            policy.multiplier());
    if (definition.debounce() != null) {
      run.quietMillis = Math.max(1, definition.debounce().quiet().toMillis());
      run.maxDelayMillis = definition.debounce().maxDelay().toMillis();
    }
    run.startToCloseMillis = times.runTimeout().toMillis();
    run.heartbeatMillis = times.heartbeatTimeout().toMillis();
    return run;
  }

  /** Update-with-start of the key workflow; the same update id on a resend, so it counts once. */
  private KeyWorkflow.Accepted accept(
      String workflowId, String workflow, String key, KeyWorkflow.Run run) {
    KeyWorkflow stub =
        client.newWorkflowStub(
            KeyWorkflow.class,
            WorkflowOptions.newBuilder()
                .setWorkflowId(workflowId)
                .setTaskQueue(taskQueue)
                .setWorkflowIdConflictPolicy(
                    WorkflowIdConflictPolicy.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING)
                .build());
    KeyWorkflow.KeyState fresh =
        new KeyWorkflow.KeyState(
            workflow,
            key,
            times.keyIdleTimeout().toMillis(),
            times.retainedRuns(),
            times.historyLimit(),
            List.of(),
            List.of());
    String updateId = run.id + "#" + UUID.randomUUID();
    RuntimeException last = null;
    for (int attempt = 1; attempt <= SEND_ATTEMPTS; attempt++) {
      try {
        return WorkflowClient.executeUpdateWithStart(
            stub::submit,
            run,
            UpdateOptions.<KeyWorkflow.Accepted>newBuilder()
                .setUpdateId(updateId)
                .setWaitForStage(WorkflowUpdateStage.COMPLETED)
                .build(),
            new WithStartWorkflowOperation<>(stub::run, fresh));
      } catch (RuntimeException e) {
        if (status.get() != EngineStatus.RUNNING) {
          // Stop cut the send short (it interrupts sends that outlive its deadline).
          throw new EngineNotRunningException(
              status.get(),
              "the workflow engine stopped before Temporal confirmed a run of '"
                  + workflow
                  + "' (key workflow "
                  + workflowId
                  + "); submit it again to an engine that runs",
              e);
        }
        // E.g. the key workflow completed (idle) or continued as new while the update was on its
        // way: the next attempt starts or finds the current run.
        last = e;
      }
    }
    throw new EngineUnavailableException(
        "Temporal did not accept a run of '"
            + workflow
            + "' (key workflow "
            + workflowId
            + "): "
            + describe(last)
            + "; check that the Temporal frontend"
            + (target == null ? "" : " at " + target)
            + " is reachable and that a worker polls task queue '"
            + taskQueue
            + "'",
        last);
  }
}
