package dev.durabledeploy.spi.exception;

import dev.durabledeploy.spi.engine.EngineStatus;
import java.util.Objects;

/**
 * A workflow engine refused a call because it is not {@link EngineStatus#RUNNING}: it was not
 * started yet, or it is stopping or stopped. A submission it refuses was not accepted, and a run it
 * handed back at stop did not finish, so the outbox relay delivers their events again
 * (docs/invariants.md E3). Retrying against the same engine does not help until it runs; start the
 * engine (or build the plane with {@code DurableDeploy.start()}), or submit to the engine that
 * replaced it.
 *
 * <p>A {@link DurableDeployException}, as the refusal was before it had a type of its own, and
 * permanent for {@link dev.durabledeploy.spi.retry.RetryPolicy}.
 */
public class EngineNotRunningException extends DurableDeployException {

  private final EngineStatus status;

  /** The engine was {@code status} when it refused; the message says what was refused. */
  public EngineNotRunningException(EngineStatus status, String message) {
    super(message);
    this.status = Objects.requireNonNull(status, "status");
  }

  /** As above, for a call the engine cut short because it stopped while {@code cause} was open. */
  public EngineNotRunningException(EngineStatus status, String message, Throwable cause) {
    super(message, cause);
    this.status = Objects.requireNonNull(status, "status");
  }

  /** The engine's status when it refused: {@code NEW}, {@code STOPPING} or {@code STOPPED}. */
  public EngineStatus status() {
    return status;
  }
}
