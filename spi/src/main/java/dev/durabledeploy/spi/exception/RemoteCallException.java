package dev.durabledeploy.spi.exception;

/**
 * A remote service answered with an HTTP-style status. {@link
 * dev.durabledeploy.spi.retry.RetryPolicy} treats 408, 429 and 5xx as transient and every other
 * status as permanent, so adapters map their client's errors to this type and get the library's
 * retry behaviour for free.
 */
public class RemoteCallException extends DurableDeployException {

  private final String service;
  private final int statusCode;

  public RemoteCallException(String service, int statusCode, String message, Throwable cause) {
    super(service + " answered " + statusCode + ": " + message, cause);
    this.service = service;
    this.statusCode = statusCode;
  }

  /** Which service answered, e.g. {@code "s3"}. */
  public String service() {
    return service;
  }

  public int statusCode() {
    return statusCode;
  }

  /** Whether the status says the same call may succeed later (408, 429, 5xx). */
  public boolean isTransient() {
    return statusCode == 408 || statusCode == 429 || statusCode >= 500;
  }
}
