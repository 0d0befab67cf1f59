package dev.durabledeploy.engine.temporal;

import dev.durabledeploy.spi.engine.RunState;
import io.temporal.workflow.QueryMethod;
import io.temporal.workflow.UpdateMethod;
import io.temporal.workflow.WorkflowInterface;
import io.temporal.workflow.WorkflowMethod;
import java.util.List;
import java.util.Map;

/**
 * Internal (public only because Temporal instantiates it): the Temporal workflow behind one
 * concurrency key of one library workflow. It owns the key's queue, runs one run at a time as an
 * activity in submission order, and remembers recent outcomes for {@code status} and idempotency.
 * Submissions arrive as updates (update-with-start), so the submitter learns the run id it was
 * given, or the run it was merged into, in the same round trip that makes it durable.
 */
@WorkflowInterface
public interface KeyWorkflow {

  /** Runs the key until it has been idle for {@code state.idleMillis}; continues as new. */
  @WorkflowMethod
  void run(KeyState state);

  /** Queues a run (or merges it into a pending debounced one, or finds it already known). */
  @UpdateMethod
  Accepted submit(Run run);

  /** Marks a dead-lettered run discarded; false when the run is not dead-lettered here. */
  @UpdateMethod
  boolean discard(String runId);

  /** The run's outcome, following merges; {@code null} when this key does not know it. */
  @QueryMethod
  Outcome outcome(String runId);

  /**
   * Everything a key workflow carries across continue-as-new.
   *
   * @param idleMillis how long the key waits with nothing queued before it completes
   * @param retainedOutcomes finished outcomes kept for status and idempotency
   * @param historyLimit history events after which the key continues as new
   */
  record KeyState(
      String workflow,
      String key,
      long idleMillis,
      int retainedOutcomes,
      int historyLimit,
      List<Run> queue,
      List<Outcome> outcomes) {}

  /**
   * One submitted run. Mutable because a debounced run takes later inputs and moves its start.
   * Times are epoch milliseconds of workflow time.
   */
  final class Run {
    public String id;
    public String workflow;
    public String key;
    public Map<String, String> input;
    public RetrySpec retry;

    /** Debounce quiet period, or 0 when the workflow is not debounced. */
    public long quietMillis;

    public long maxDelayMillis;
    public long notBefore;
    public long deadline;
    public long startToCloseMillis;
    public long heartbeatMillis;

    public Run() {}

    boolean debounced() {
      return quietMillis > 0;
    }
  }

  /** The library's {@code RetryPolicy} as Temporal activity retry options need it. */
  record RetrySpec(int maxAttempts, long initialMillis, long maxMillis, double multiplier) {}

  /** What a submission got: its run id and whether an existing run absorbed it. */
  record Accepted(String runId, boolean deduplicated) {}

  /**
   * A run's state as the key workflow knows it.
   *
   * @param mergedInto the debounced run this submission was merged into, or {@code null}
   */
  record Outcome(
      String runId,
      String key,
      RunState state,
      int attempts,
      String lastError,
      long updatedAtMillis,
      String mergedInto) {

    Outcome with(RunState newState, int newAttempts, String error, long at) {
      return new Outcome(runId, key, newState, newAttempts, error, at, mergedInto);
    }
  }
}
