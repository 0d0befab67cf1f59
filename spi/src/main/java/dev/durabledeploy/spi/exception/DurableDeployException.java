package dev.durabledeploy.spi.exception;

/**
 * Root of every exception durable-deploy throws. Unchecked: callers decide where to handle, and
 * each subclass says what happened. Messages never contain credentials (docs/invariants.md I2).
 */
public class DurableDeployException extends RuntimeException {

  public DurableDeployException(String message) {
    super(message);
  }

  public DurableDeployException(String message, Throwable cause) {
    super(message, cause);
  }
}
