package dev.durabledeploy.engine.executor;

import dev.durabledeploy.spi.engine.RunHandle;
import dev.durabledeploy.spi.engine.WorkflowDefinition;
import java.util.HashMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Collapses a burst of submissions of a debounced workflow's key into one run: the pending run
 * takes each later input and is queued once no submission came for the quiet period, at most the
 * max delay after the first. Debounced runs are accepted at once (a burst must collapse); one lost
 * in a crash is triggered again by the next event of its key. Every method is called with the
 * engine lock held; the timer's fire takes it.
 */
final class Debouncer {

  private static final Logger LOG = LoggerFactory.getLogger(Debouncer.class);

  private final EngineState state;
  private final Runs runs;
  private final FairQueue queue;
  private final WorkerThreads threads;
  private final Map<String, Run> pending = new HashMap<>();

  Debouncer(EngineState state, Runs runs, FairQueue queue, WorkerThreads threads) {
    this.state = state;
    this.runs = runs;
    this.queue = queue;
    this.threads = threads;
  }

  /** Starts a burst, or merges the submission into the burst's pending run. */
  RunHandle submit(
      WorkflowDefinition definition, Map<String, String> input, String idempotencyKey) {
    String debounceKey = definition.name() + ":" + definition.keyOf(input);
    Run run = pending.get(debounceKey);
    boolean deduplicated = run != null;
    if (run != null) {
      run.input = input;
    } else {
      run = runs.create(definition, input, true);
      pending.put(debounceKey, run);
    }
    arm(run, debounceKey);
    runs.remember(idempotencyKey, run);
    return run.handle(deduplicated);
  }

  /** At stop: hands back every pending run. */
  void drain() {
    if (!pending.isEmpty()) {
      LOG.info(
          "{} debounced runs dropped at shutdown; the next event of their key re-triggers them",
          pending.size());
    }
    pending.values().forEach(Run::abandon);
    pending.clear();
  }

  private void arm(Run run, String debounceKey) {
    if (run.timer != null) {
      run.timer.cancel(false);
    }
    long quiet = run.definition.debounce().quiet().toNanos();
    long latest =
        run.firstSubmitNanos + run.definition.debounce().maxDelay().toNanos() - System.nanoTime();
    run.timer =
        threads.schedule(
            () ->
                state.lockedRun(
                    () -> {
                      if (state.running() && pending.remove(debounceKey, run)) {
                        queue.enqueue(run, false);
                      }
                    }),
            Math.min(quiet, latest));
  }
}
