package dev.durabledeploy.spi.exception;

/**
 * A backend (database, Valkey, object store) was unreachable or refused the call for a reason that
 * should pass: connection loss, failover, throttling. Always classified as transient by {@link
 * dev.durabledeploy.spi.retry.RetryPolicy}.
 */
public class TransientStoreException extends DurableDeployException {

  public TransientStoreException(String message, Throwable cause) {
    super(message, cause);
  }

  public TransientStoreException(String message) {
    super(message);
  }
}
