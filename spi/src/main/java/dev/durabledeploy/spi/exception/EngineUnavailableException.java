package dev.durabledeploy.spi.exception;

/**
 * A running workflow engine could not take or answer a call now, for a reason that should pass: its
 * backend was unreachable or did not answer in time (a Temporal frontend that is down, no worker
 * polling the task queue), or it holds as many waiting runs as it may (back-pressure). The message
 * says which, and what to check. Nothing was accepted; submit or ask again later.
 *
 * <p>Transient for {@link dev.durabledeploy.spi.retry.RetryPolicy}, like {@link
 * TransientStoreException}, of which it is not a kind: an engine is not a store.
 */
public class EngineUnavailableException extends DurableDeployException {

  public EngineUnavailableException(String message) {
    super(message);
  }

  public EngineUnavailableException(String message, Throwable cause) {
    super(message, cause);
  }
}
