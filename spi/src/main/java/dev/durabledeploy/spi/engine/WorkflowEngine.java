package dev.durabledeploy.spi.engine;

import dev.durabledeploy.spi.exception.ConfigurationException;
import dev.durabledeploy.spi.exception.DurableDeployException;
import dev.durabledeploy.spi.exception.EngineNotRunningException;
import dev.durabledeploy.spi.exception.InvalidInputException;
import dev.durabledeploy.spi.health.Health;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletionStage;

/**
 * Runs workflows: per-key serialised, retried with the definition's policy, dead-lettered when
 * attempts run out (docs/invariants.md E5) — and a dead letter never blocks its key.
 *
 * <p>Lifecycle: {@link #register} every workflow, then {@link #start}, then {@link #close}.
 *
 * <p>Failures an engine reports as types: {@link EngineNotRunningException} when it is not running
 * (not started, stopping, stopped) and so refuses a call; {@link
 * dev.durabledeploy.spi.exception.EngineUnavailableException} when it cannot take or answer a call
 * now (its backend is unreachable or slow to answer, or it is full) and the same call may succeed
 * later.
 */
public interface WorkflowEngine extends AutoCloseable {

  /**
   * Registers a workflow. Registering a name twice is refused with {@link
   * dev.durabledeploy.spi.exception.ConfigurationException}.
   */
  void register(WorkflowDefinition definition);

  /**
   * The names of the workflows registered so far, so a host (and the outbox relay at start) can
   * check that every route leads somewhere. Empty when the engine cannot tell; the default, for
   * engines written before this method existed.
   */
  default Optional<Set<String>> registeredWorkflows() {
    return Optional.empty();
  }

  /**
   * Submits a run. The stage completes when the run is <b>durably accepted</b> — as durable as this
   * engine gets — so the outbox relay acknowledges an event only then (E3). It completes
   * exceptionally with {@link dev.durabledeploy.spi.exception.InvalidInputException} (field {@code
   * workflow}) for an unknown workflow, with {@link EngineNotRunningException} when the engine is
   * not running (or stopped before the run was accepted), and with {@link
   * dev.durabledeploy.spi.exception.EngineUnavailableException} when the engine cannot take the run
   * now.
   */
  CompletionStage<RunHandle> submit(Submission submission);

  /**
   * Submits the schedule's workflow at each cron fire time while the engine runs. Scheduling an id
   * again replaces it. An invalid expression is {@link
   * dev.durabledeploy.spi.exception.InvalidInputException} (field {@code cron}).
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

  /**
   * How every engine refuses a submission it cannot take: the engine is not {@code RUNNING} ({@link
   * EngineNotRunningException}), or no workflow of that name is registered ({@link
   * InvalidInputException}; the message lists those that are). Empty when {@code submission} may go
   * ahead. Engines return it as a failed stage from {@link #submit}.
   */
  static Optional<DurableDeployException> refusal(
      EngineStatus status, Map<String, WorkflowDefinition> registered, Submission submission) {
    if (status != EngineStatus.RUNNING) {
      return Optional.of(
          new EngineNotRunningException(
              status, "the workflow engine is " + status + ", not RUNNING"));
    }
    if (!registered.containsKey(submission.workflow())) {
      return Optional.of(
          new InvalidInputException(
              "workflow",
              "unknown workflow '"
                  + submission.workflow()
                  + "'; registered: "
                  + registered.keySet()));
    }
    return Optional.empty();
  }

  /** How every engine refuses a second workflow of the same name in {@link #register}. */
  static ConfigurationException alreadyRegistered(WorkflowDefinition definition) {
    return new ConfigurationException(
        "workflow", "a workflow named '" + definition.name() + "' is already registered");
  }

  /**
   * What the engine reports about itself (see {@link Health}), such as its queue depth. The plane
   * bounds the call in time. The default reports UP while the engine is {@link EngineStatus#RUNNING
   * RUNNING} and DOWN otherwise, with its state as the detail {@code state}.
   */
  default Health health() {
    EngineStatus status = engineStatus();
    java.util.Map<String, Object> details = java.util.Map.of("state", status.name());
    return status == EngineStatus.RUNNING ? Health.up(details) : Health.down(details);
  }
}
