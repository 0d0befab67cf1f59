package dev.durabledeploy.engine.temporal;

import dev.durabledeploy.spi.engine.RunId;
import dev.durabledeploy.spi.engine.RunStatus;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowNotFoundException;
import java.time.Instant;
import java.util.Optional;

/**
 * A run's status, as its key workflow remembers it: the run id names the key workflow, whose worker
 * answers a query (bounded by the query timeout).
 */
final class RunStatuses {

  private final WorkflowClient client;
  private final WorkflowIds ids;
  private final BoundedCalls calls;

  RunStatuses(WorkflowClient client, WorkflowIds ids, BoundedCalls calls) {
    this.client = client;
    this.ids = ids;
    this.calls = calls;
  }

  /** Empty for an id this engine did not give out, or one its key workflow no longer knows. */
  Optional<RunStatus> of(RunId id) {
    Optional<WorkflowIds.RunAddress> address = WorkflowIds.RunAddress.of(id);
    if (address.isEmpty()) {
      return Optional.empty();
    }
    String keyWorkflow = ids.keyWorkflow(address.get());
    KeyWorkflow.Outcome outcome;
    try {
      outcome =
          calls.call(
              "the status of run " + id,
              () -> client.newWorkflowStub(KeyWorkflow.class, keyWorkflow).outcome(id.value()));
    } catch (WorkflowNotFoundException gone) {
      return Optional.empty();
    }
    if (outcome == null) {
      return Optional.empty();
    }
    return Optional.of(
        new RunStatus(
            id,
            address.get().workflow(),
            outcome.key(),
            outcome.state(),
            outcome.attempts(),
            outcome.lastError(),
            Instant.ofEpochMilli(outcome.updatedAtMillis())));
  }
}
