package dev.durabledeploy.engine.temporal;

import io.temporal.workflow.Workflow;
import io.temporal.workflow.WorkflowInit;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import org.slf4j.Logger;

/** Internal: see {@link DeadLetterWorkflow}. */
public class DeadLetterWorkflowImpl implements DeadLetterWorkflow {

  /**
   * Letters kept; past this the oldest is dropped with a warning, so the registry's state stays
   * well under Temporal's payload limit when it continues as new.
   */
  static final int MAX_LETTERS = 5_000;

  private static final Logger LOG = Workflow.getLogger(DeadLetterWorkflowImpl.class);

  private final LinkedHashMap<String, Letter> letters = new LinkedHashMap<>();

  @WorkflowInit
  public DeadLetterWorkflowImpl(List<Letter> carried) {
    carried.forEach(l -> letters.put(l.runId(), l));
  }

  @Override
  public void run(List<Letter> carried) {
    Workflow.await(() -> KeyWorkflowImpl.historyIsLong(KeyWorkflowImpl.HISTORY_LIMIT));
    Workflow.await(Workflow::isEveryHandlerFinished);
    Workflow.continueAsNew(new ArrayList<>(letters.values()));
  }

  @Override
  public void add(Letter letter) {
    letters.putIfAbsent(letter.runId(), letter);
    Iterator<Letter> oldest = letters.values().iterator();
    while (letters.size() > MAX_LETTERS) {
      Letter dropped = oldest.next();
      oldest.remove();
      LOG.warn(
          "dead-letter registry full ({} letters): dropped the oldest, run {} of {}",
          MAX_LETTERS,
          dropped.runId(),
          dropped.workflow());
    }
  }

  @Override
  public Letter remove(String runId) {
    return letters.remove(runId);
  }

  @Override
  public List<Letter> list(int limit) {
    return letters.values().stream().limit(Math.max(0, limit)).toList();
  }
}
