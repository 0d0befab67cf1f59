package dev.durabledeploy.examples.hostile;

import dev.durabledeploy.spi.engine.RunHandle;
import dev.durabledeploy.spi.engine.Submission;
import dev.durabledeploy.spi.engine.WorkflowEngine;
import dev.durabledeploy.spi.exception.TransientStoreException;
import dev.durabledeploy.testkit.ForwardingWorkflowEngine;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;

/**
 * A workflow engine (public SPI) in front of a real one whose submissions fail while a predicate
 * matches them: a downstream that refuses work (Temporal unreachable, a full queue).
 */
class FlakyEngine extends ForwardingWorkflowEngine {

  volatile Predicate<Submission> refuse = s -> false;
  final AtomicInteger refused = new AtomicInteger();

  FlakyEngine(WorkflowEngine delegate) {
    super(delegate);
  }

  @Override
  public CompletionStage<RunHandle> submit(Submission submission) {
    if (refuse.test(submission)) {
      refused.incrementAndGet();
      return CompletableFuture.failedFuture(
          new TransientStoreException("downstream refused " + submission.workflow()));
    }
    return super.submit(submission);
  }
}
