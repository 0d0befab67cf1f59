package dev.durabledeploy.engine.temporal;

import static dev.durabledeploy.engine.temporal.Errors.describe;

import dev.durabledeploy.spi.engine.DeadLetter;
import dev.durabledeploy.spi.engine.RunHandle;
import dev.durabledeploy.spi.engine.RunId;
import dev.durabledeploy.spi.engine.Submission;
import dev.durabledeploy.spi.exception.InvalidInputException;
import io.temporal.api.enums.v1.WorkflowIdConflictPolicy;
import io.temporal.client.UpdateOptions;
import io.temporal.client.WithStartWorkflowOperation;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowNotFoundException;
import io.temporal.client.WorkflowOptions;
import io.temporal.client.WorkflowUpdateStage;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Dead letters, kept by one registry workflow per engine prefix ({@link DeadLetterWorkflow}). Key
 * workflows add to it through an activity before they report a run dead-lettered, so a listing
 * taken after that report always shows the run.
 */
final class DeadLetters {

  private static final Logger LOG = LoggerFactory.getLogger(DeadLetters.class);

  private final WorkflowClient client;
  private final String taskQueue;
  private final WorkflowIds ids;
  private final BoundedCalls calls;
  private final Function<Submission, CompletionStage<RunHandle>> submit;

  DeadLetters(
      WorkflowClient client,
      String taskQueue,
      WorkflowIds ids,
      BoundedCalls calls,
      Function<Submission, CompletionStage<RunHandle>> submit) {
    this.client = client;
    this.taskQueue = taskQueue;
    this.ids = ids;
    this.calls = calls;
    this.submit = submit;
  }

  List<DeadLetter> list(int limit) {
    try {
      return calls.call("the dead-letter listing", () -> registry().list(limit)).stream()
          .map(DeadLetters::toDeadLetter)
          .toList();
    } catch (WorkflowNotFoundException none) {
      return List.of();
    }
  }

  /** Submits the letter's input as a new run; the letter goes once Temporal accepted the run. */
  CompletionStage<RunHandle> retry(RunId id) {
    Optional<DeadLetter> letter;
    try {
      letter = list(Integer.MAX_VALUE).stream().filter(d -> d.id().equals(id)).findFirst();
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(e);
    }
    if (letter.isEmpty()) {
      return CompletableFuture.failedFuture(
          new InvalidInputException("runId", "no dead letter for run " + id));
    }
    return submit
        .apply(Submission.of(letter.get().workflow(), letter.get().input()))
        .thenApply(
            handle -> {
              calls.call("removing dead letter " + id, () -> registry().remove(id.value()));
              return handle;
            });
  }

  /** Drops the letter and marks its run discarded in its key workflow, if that still runs. */
  boolean discard(RunId id) {
    DeadLetterWorkflow.Letter removed;
    try {
      removed = calls.call("removing dead letter " + id, () -> registry().remove(id.value()));
    } catch (WorkflowNotFoundException none) {
      return false;
    }
    if (removed == null) {
      return false;
    }
    try {
      String keyWorkflow = ids.keyWorkflow(WorkflowIds.RunAddress.of(id).orElseThrow());
      calls.call(
          "marking run " + id + " discarded",
          () -> client.newWorkflowStub(KeyWorkflow.class, keyWorkflow).discard(id.value()));
    } catch (RuntimeException keyGone) {
      // The key workflow completed since; its outcome is forgotten, the letter is gone: done.
      LOG.debug("run {} discarded; its key workflow no longer runs: {}", id, describe(keyGone));
    }
    return true;
  }

  /** Records a letter (from the dead-letter activity); returns once a listing shows it. */
  void add(DeadLetterWorkflow.Letter letter) {
    DeadLetterWorkflow stub =
        client.newWorkflowStub(
            DeadLetterWorkflow.class,
            WorkflowOptions.newBuilder()
                .setWorkflowId(ids.registry())
                .setTaskQueue(taskQueue)
                .setWorkflowIdConflictPolicy(
                    WorkflowIdConflictPolicy.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING)
                .build());
    WorkflowClient.executeUpdateWithStart(
        stub::add,
        letter,
        UpdateOptions.<Void>newBuilder()
            .setUpdateId("dead:" + letter.runId())
            .setWaitForStage(WorkflowUpdateStage.COMPLETED)
            .build(),
        new WithStartWorkflowOperation<>(stub::run, List.<DeadLetterWorkflow.Letter>of()));
  }

  private DeadLetterWorkflow registry() {
    return client.newWorkflowStub(DeadLetterWorkflow.class, ids.registry());
  }

  private static DeadLetter toDeadLetter(DeadLetterWorkflow.Letter l) {
    return new DeadLetter(
        new RunId(l.runId()),
        l.workflow(),
        l.input(),
        l.key(),
        l.attempts(),
        l.lastError(),
        Instant.ofEpochMilli(l.deadAtMillis()));
  }
}
