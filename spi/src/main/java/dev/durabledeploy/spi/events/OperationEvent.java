package dev.durabledeploy.spi.events;

import dev.durabledeploy.spi.SiteId;
import java.time.Duration;
import java.time.Instant;

/**
 * The life of one long operation (finalize, delete, GC, a workflow run, ...).
 *
 * <p>Every record carries {@code operationId} (the subject), {@code operation} (its kind, e.g.
 * {@code finalize}), {@code site} (null when not site-scoped) and {@code at}.
 */
public sealed interface OperationEvent extends LifecycleEvent {

  String operationId();

  String operation();

  SiteId site();

  @Override
  default String topic() {
    return "operation";
  }

  @Override
  default String subject() {
    return operationId();
  }

  @Override
  default boolean isTerminal() {
    return false;
  }

  record Started(String operationId, String operation, SiteId site, Instant at)
      implements OperationEvent {}

  /**
   * Progress: {@code done} of {@code total} units (total 0 when unknown).
   *
   * @param message what is being done, for a progress line
   */
  record Progress(
      String operationId,
      String operation,
      SiteId site,
      long done,
      long total,
      String message,
      Instant at)
      implements OperationEvent {}

  record Succeeded(
      String operationId, String operation, SiteId site, Duration took, String summary, Instant at)
      implements OperationEvent {
    @Override
    public boolean isTerminal() {
      return true;
    }
  }

  /** A transient failure; attempt {@code nextAttempt} follows after {@code delay}. */
  record Retrying(
      String operationId,
      String operation,
      SiteId site,
      int nextAttempt,
      Duration delay,
      String error,
      Instant at)
      implements OperationEvent {}

  record Failed(String operationId, String operation, SiteId site, String error, Instant at)
      implements OperationEvent {
    @Override
    public boolean isTerminal() {
      return true;
    }
  }

  /**
   * A workflow run exhausted its attempts and was dead-lettered (docs/invariants.md E5), or an
   * outbox event exhausted its dispatches and was dead-lettered in the outbox (operation {@code
   * outbox-dispatch}, id {@code outbox:<event id>}).
   */
  record DeadLettered(
      String operationId, String operation, SiteId site, int attempts, String error, Instant at)
      implements OperationEvent {
    @Override
    public boolean isTerminal() {
      return true;
    }
  }

  /**
   * The operation had nothing to do, e.g. its site was deleted while it was queued (a clean no-op,
   * never a crash).
   */
  record Skipped(String operationId, String operation, SiteId site, String reason, Instant at)
      implements OperationEvent {
    @Override
    public boolean isTerminal() {
      return true;
    }
  }
}
