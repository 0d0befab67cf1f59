package dev.durabledeploy.spi.engine;

import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletionStage;

/**
 * Runs workflows: per-key serialised, retried with the definition's policy, dead-lettered when
 * attempts run out (DESIGN.md E5) — and a dead letter never blocks its key.
 *
 * <p>Lifecycle: {@link #register} every workflow, then {@link #start}, then {@link #close}.
 */
public interface WorkflowEngine extends AutoCloseable {

  /**
   * Registers a workflow. Registering a name twice is refused with {@link
   * dev.durabledeploy.spi.ConfigurationException}.
   */
  void register(WorkflowDefinition definition);

  /**
   * Submits a run. The stage completes when the run is <b>durably accepted</b> — as durable as this
   * engine gets — so the outbox relay acknowledges an event only then (E3). It completes
   * exceptionally with {@link dev.durabledeploy.spi.InvalidInputException} (field {@code workflow})
   * for an unknown workflow, or when the engine is not running.
   */
  CompletionStage<RunHandle> submit(Submission submission);

  /**
   * Submits the schedule's workflow at each cron fire time while the engine runs. Scheduling an id
   * again replaces it. An invalid expression is {@link dev.durabledeploy.spi.InvalidInputException}
   * (field {@code cron}).
   */
  void schedule(CronSchedule schedule);

  /** Removes a schedule; false if there was none. */
  boolean unschedule(String scheduleId);

  /** The run's state, empty when unknown (or forgotten after the engine's retention). */
  Optional<RunStatus> status(RunId id);

  /** Up to {@code limit} dead letters, oldest first. */
  List<DeadLetter> deadLetters(int limit);

  /** Submits a dead letter's input again as a new run and removes the dead letter. */
  CompletionStage<RunHandle> retryDeadLetter(RunId id);

  /** Drops a dead letter; false when there was none. */
  boolean discardDeadLetter(RunId id);

  /** Starts executing runs and schedules. */
  void start();

  /**
   * Stops accepting submissions and waits up to {@code deadline} for running attempts; attempts
   * still running then are interrupted and not reported as succeeded.
   */
  void stop(Duration deadline);

  EngineStatus engineStatus();

  /** {@link #stop} with the engine's default deadline. */
  @Override
  void close();
}
