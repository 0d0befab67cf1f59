package dev.durabledeploy.engine.temporal;

import dev.durabledeploy.spi.engine.RunState;
import io.temporal.activity.ActivityOptions;
import io.temporal.common.RetryOptions;
import io.temporal.failure.ActivityFailure;
import io.temporal.failure.ApplicationFailure;
import io.temporal.failure.TimeoutFailure;
import io.temporal.workflow.Workflow;
import io.temporal.workflow.WorkflowInit;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.Iterator;
import java.util.LinkedHashMap;

/**
 * Internal: see {@link KeyWorkflow}. Runs the queue head once it is due (a debounced run waits for
 * its quiet period, at most its max delay), records the outcome, and continues as new before the
 * history grows long, carrying the queue and recent outcomes.
 */
public class KeyWorkflowImpl implements KeyWorkflow {

  /**
   * Events after which a key or registry workflow continues as new (Temporal's hard limit: 50k).
   */
  static final int HISTORY_LIMIT = 4_000;

  private final KeyState config;
  private final Deque<Run> queue = new ArrayDeque<>();
  private final LinkedHashMap<String, Outcome> outcomes = new LinkedHashMap<>();

  @WorkflowInit
  public KeyWorkflowImpl(KeyState state) {
    this.config = state;
    queue.addAll(state.queue());
    state.outcomes().forEach(o -> outcomes.put(o.runId(), o));
  }

  static boolean historyIsLong(int limit) {
    return Workflow.getInfo().isContinueAsNewSuggested()
        || Workflow.getInfo().getHistoryLength() > limit;
  }

  @Override
  public void run(KeyState state) {
    while (true) {
      if (queue.isEmpty()) {
        boolean woken =
            Workflow.await(Duration.ofMillis(config.idleMillis()), () -> !queue.isEmpty());
        if (!woken) {
          Workflow.await(Workflow::isEveryHandlerFinished);
          if (queue.isEmpty()) {
            return; // idle: the next submission starts the key again
          }
        }
        continue;
      }
      Run head = queue.peek();
      long wait = head.notBefore - Workflow.currentTimeMillis();
      if (wait > 0) {
        // A debounced run: merges may move notBefore later (never past its deadline), so sleep
        // and look again.
        Workflow.sleep(Duration.ofMillis(wait));
        continue;
      }
      queue.poll();
      execute(head);
      if (historyIsLong(config.historyLimit())) {
        Workflow.await(Workflow::isEveryHandlerFinished);
        Workflow.continueAsNew(
            new KeyState(
                config.workflow(),
                config.key(),
                config.idleMillis(),
                config.retainedOutcomes(),
                config.historyLimit(),
                new ArrayList<>(queue),
                new ArrayList<>(outcomes.values())));
      }
    }
  }

  private void execute(Run run) {
    record(run.id, RunState.RUNNING, 1, null);
    RunActivities activities = Workflow.newActivityStub(RunActivities.class, options(run));
    try {
      int attempts = activities.execute(run.id, run.workflow, run.key, run.input);
      record(run.id, RunState.SUCCEEDED, attempts, null);
    } catch (ActivityFailure failure) {
      int attempts = run.retry.maxAttempts();
      String error;
      if (failure.getCause() instanceof ApplicationFailure app) {
        error = app.getOriginalMessage();
        if (app.getDetails().getSize() > 0) {
          attempts = app.getDetails().get(Integer.class);
        }
      } else if (failure.getCause() instanceof TimeoutFailure timeout) {
        error =
            "timed out (" + timeout.getTimeoutType() + "): the worker died or stopped heartbeating";
      } else {
        error = String.valueOf(failure.getCause());
      }
      // Registry first: once the run reads DEAD_LETTERED, a listing must show it.
      Workflow.newActivityStub(
              RunActivities.class,
              ActivityOptions.newBuilder()
                  .setStartToCloseTimeout(Duration.ofSeconds(30))
                  .setRetryOptions(
                      RetryOptions.newBuilder()
                          .setMaximumAttempts(0) // until it lands: a dead letter is never lost
                          .setMaximumInterval(Duration.ofMinutes(1))
                          .build())
                  .build())
          .deadLetter(
              new DeadLetterWorkflow.Letter(
                  run.id,
                  run.workflow,
                  run.input,
                  run.key,
                  attempts,
                  error,
                  Workflow.currentTimeMillis()));
      record(run.id, RunState.DEAD_LETTERED, attempts, error);
    }
  }

  private static ActivityOptions options(Run run) {
    RetrySpec retry = run.retry;
    long initial = Math.max(1, retry.initialMillis());
    return ActivityOptions.newBuilder()
        .setStartToCloseTimeout(Duration.ofMillis(run.startToCloseMillis))
        .setHeartbeatTimeout(Duration.ofMillis(run.heartbeatMillis))
        .setRetryOptions(
            RetryOptions.newBuilder()
                .setMaximumAttempts(retry.maxAttempts())
                .setInitialInterval(Duration.ofMillis(initial))
                .setMaximumInterval(Duration.ofMillis(Math.max(initial, retry.maxMillis())))
                .setBackoffCoefficient(Math.max(1.0, retry.multiplier()))
                .build())
        .build();
  }

  private void record(String runId, RunState state, int attempts, String error) {
    Outcome previous = outcomes.remove(runId);
    long now = Workflow.currentTimeMillis();
    Outcome next =
        previous == null
            ? new Outcome(runId, config.key(), state, attempts, error, now, null)
            : previous.with(state, attempts, error, now);
    outcomes.put(runId, next); // re-inserted: the map stays in order of last change
    forgetOldest();
  }

  /** Drops the oldest finished (or merged) outcomes beyond the retained count. */
  private void forgetOldest() {
    Iterator<Outcome> oldest = outcomes.values().iterator();
    while (outcomes.size() > config.retainedOutcomes() && oldest.hasNext()) {
      Outcome o = oldest.next();
      if (o.mergedInto() != null || o.state().isTerminal()) {
        oldest.remove();
      }
    }
  }

  @Override
  public Accepted submit(Run run) {
    Outcome known = outcomes.get(run.id);
    if (known != null) {
      return new Accepted(known.mergedInto() == null ? run.id : known.mergedInto(), true);
    }
    long now = Workflow.currentTimeMillis();
    if (run.debounced()) {
      Run tail = queue.peekLast();
      if (tail != null && tail.debounced()) {
        // The burst's pending run takes the latest input and waits for a new quiet period, but
        // never past the deadline its first submission set.
        tail.input = run.input;
        tail.notBefore = Math.min(now + run.quietMillis, tail.deadline);
        outcomes.put(run.id, new Outcome(run.id, run.key, RunState.QUEUED, 0, null, now, tail.id));
        forgetOldest();
        return new Accepted(tail.id, true);
      }
      run.notBefore = now + run.quietMillis;
      run.deadline = now + run.maxDelayMillis;
    } else {
      run.notBefore = now;
      run.deadline = now;
    }
    queue.add(run);
    outcomes.put(run.id, new Outcome(run.id, run.key, RunState.QUEUED, 0, null, now, null));
    forgetOldest();
    return new Accepted(run.id, false);
  }

  @Override
  public boolean discard(String runId) {
    Outcome o = outcomes.get(runId);
    if (o == null || o.state() != RunState.DEAD_LETTERED) {
      return false;
    }
    record(runId, RunState.DISCARDED, o.attempts(), o.lastError());
    return true;
  }

  @Override
  public Outcome outcome(String runId) {
    Outcome o = outcomes.get(runId);
    if (o != null && o.mergedInto() != null) {
      Outcome target = outcomes.get(o.mergedInto());
      return target == null ? o : target;
    }
    return o;
  }
}
