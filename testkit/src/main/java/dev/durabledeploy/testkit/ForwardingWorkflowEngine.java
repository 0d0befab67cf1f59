package dev.durabledeploy.testkit;

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
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletionStage;

/**
 * A {@link WorkflowEngine} that hands every call to another one. A test overrides the calls it
 * wants to watch or break (a submission that fails while a downstream is "unreachable", a log of
 * what a relay submitted) and leaves the rest to a real engine.
 */
public class ForwardingWorkflowEngine implements WorkflowEngine {

  private final WorkflowEngine delegate;

  public ForwardingWorkflowEngine(WorkflowEngine delegate) {
    this.delegate = Objects.requireNonNull(delegate, "delegate");
  }

  /** The engine every call goes to. */
  protected final WorkflowEngine delegate() {
    return delegate;
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
