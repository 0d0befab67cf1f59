package dev.durabledeploy.benchmarks;

import dev.durabledeploy.spi.engine.RunHandle;
import dev.durabledeploy.spi.engine.RunId;
import dev.durabledeploy.spi.engine.RunStatus;
import dev.durabledeploy.spi.engine.Submission;
import dev.durabledeploy.spi.engine.WorkflowEngine;
import dev.durabledeploy.testkit.ForwardingWorkflowEngine;
import java.time.Duration;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * A {@link WorkflowEngine} that hands every call to the engine it wraps and remembers the runs it
 * accepted, so a benchmark can wait until the runs some work submitted have all finished (their
 * {@link #status} terminal) without changing how they run.
 */
final class RecordingEngine extends ForwardingWorkflowEngine {

  /** An accepted run and what it was submitted with. */
  record Accepted(Submission submission, RunId id) {}

  private final ConcurrentLinkedQueue<Accepted> accepted = new ConcurrentLinkedQueue<>();
  private final ConcurrentLinkedQueue<CompletableFuture<RunHandle>> submitted =
      new ConcurrentLinkedQueue<>();

  RecordingEngine(WorkflowEngine delegate) {
    super(delegate);
  }

  /** The distinct runs accepted so far whose submission matches. */
  Set<RunId> runs(Predicate<Submission> which) {
    Set<RunId> out = new java.util.HashSet<>();
    for (Accepted a : accepted) {
      if (which.test(a.submission())) {
        out.add(a.id());
      }
    }
    return out;
  }

  /**
   * Whether every one of {@code runs} has finished: terminal, or forgotten after the engine's
   * retention of finished runs (a live run is never forgotten).
   */
  boolean finished(Set<RunId> runs) {
    for (RunId id : runs) {
      Optional<RunStatus> status = status(id);
      if (status.isPresent() && !status.get().state().isTerminal()) {
        return false;
      }
    }
    return true;
  }

  /**
   * Waits until every submission made so far was accepted: at once for a debounced run, when the
   * run finished for any other on {@link dev.durabledeploy.engine.executor.ExecutorEngine}.
   */
  void awaitAccepted(Duration timeout) {
    for (CompletableFuture<RunHandle> f : submitted) {
      f.orTimeout(timeout.toMillis(), TimeUnit.MILLISECONDS).exceptionally(e -> null).join();
    }
  }

  @Override
  public CompletionStage<RunHandle> submit(Submission submission) {
    CompletableFuture<RunHandle> handle =
        super.submit(submission)
            .thenApply(
                h -> {
                  accepted.add(new Accepted(submission, h.id()));
                  return h;
                })
            .toCompletableFuture();
    submitted.add(handle);
    return handle;
  }
}
