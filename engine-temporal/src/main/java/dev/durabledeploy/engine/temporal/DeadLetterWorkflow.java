package dev.durabledeploy.engine.temporal;

import io.temporal.workflow.QueryMethod;
import io.temporal.workflow.UpdateMethod;
import io.temporal.workflow.WorkflowInterface;
import io.temporal.workflow.WorkflowMethod;
import java.util.List;
import java.util.Map;

/**
 * Internal (public only because Temporal instantiates it): the registry of dead-lettered runs, one
 * workflow per engine prefix. Key workflows add to it through an activity before they report a run
 * dead-lettered, so a listing taken after that report always shows the run.
 */
@WorkflowInterface
public interface DeadLetterWorkflow {

  /** Holds the letters; continues as new before its history grows large. */
  @WorkflowMethod
  void run(List<Letter> carried);

  /** Adds a letter; adding a run id that is already there changes nothing. */
  @UpdateMethod
  void add(Letter letter);

  /** Removes and returns the run's letter, or {@code null} when there is none. */
  @UpdateMethod
  Letter remove(String runId);

  /** Up to {@code limit} letters, oldest first. */
  @QueryMethod
  List<Letter> list(int limit);

  /** A dead-lettered run, as the registry keeps it. */
  record Letter(
      String runId,
      String workflow,
      Map<String, String> input,
      String key,
      int attempts,
      String lastError,
      long deadAtMillis) {}
}
