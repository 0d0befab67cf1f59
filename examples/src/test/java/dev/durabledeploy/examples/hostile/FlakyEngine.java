package dev.durabledeploy.examples.hostile;

import dev.durabledeploy.spi.TransientStoreException;
import dev.durabledeploy.spi.engine.CronSchedule;
import dev.durabledeploy.spi.engine.DeadLetter;
import dev.durabledeploy.spi.engine.EngineStatus;
import dev.durabledeploy.spi.engine.RunHandle;
import dev.durabledeploy.spi.engine.RunId;
import dev.durabledeploy.spi.engine.RunStatus;
import dev.durabledeploy.spi.engine.Submission;
import dev.durabledeploy.spi.engine.WorkflowDefinition;
import dev.durabledeploy.spi.engine.WorkflowEngine;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;

/**
 * A workflow engine (public SPI) in front of a real one whose submissions fail while a predicate
 * matches them: a downstream that refuses work (Temporal unreachable, a full queue).
 */
class FlakyEngine implements WorkflowEngine {

  private final WorkflowEngine delegate;
  volatile Predicate<Submission> refuse = s -> false;
  final AtomicInteger refused = new AtomicInteger();

  FlakyEngine(WorkflowEngine delegate) {
    this.delegate = delegate;
  }

  @Override
  public void register(WorkflowDefinition definition) {
    delegate.register(definition);
  }

  @Override
  public Optional<Set<String>> registeredWorkflows() {
    return delegate.registeredWorkflows();
  }

  @Override
  public CompletionStage<RunHandle> submit(Submission submission) {
    if (refuse.test(submission)) {
      refused.incrementAndGet();
      return CompletableFuture.failedFuture(
          new TransientStoreException("downstream refused " + submission.workflow()));
    }
    return delegate.submit(submission);
  }

  @Override
  public void schedule(CronSchedule schedule) {
    delegate.schedule(schedule);
  }

  @Override
  public boolean unschedule(String scheduleId) {
    return delegate.unschedule(scheduleId);
  }

  @Override
  public Optional<RunStatus> status(RunId id) {
    return delegate.status(id);
  }

  @Override
  public List<DeadLetter> deadLetters(int limit) {
    return delegate.deadLetters(limit);
  }

  @Override
  public CompletionStage<RunHandle> retryDeadLetter(RunId id) {
    return delegate.retryDeadLetter(id);
  }

  @Override
  public boolean discardDeadLetter(RunId id) {
    return delegate.discardDeadLetter(id);
  }

  @Override
  public void start() {
    delegate.start();
  }

  @Override
  public void stop(Duration deadline) {
    delegate.stop(deadline);
  }

  @Override
  public EngineStatus engineStatus() {
    return delegate.engineStatus();
  }

  @Override
  public void close() {
    delegate.close();
  }
}
