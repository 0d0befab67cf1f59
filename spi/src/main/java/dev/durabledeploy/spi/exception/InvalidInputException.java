package dev.durabledeploy.spi.exception;

import java.util.Objects;

/**
 * An external string (or number) failed validation at the API boundary (docs/invariants.md I1).
 * Carries the name of the offending field so an HTTP host can answer 400 with it. The rejected
 * value is only ever shown escaped and truncated, never when it may hold a credential.
 */
public class InvalidInputException extends DurableDeployException {

  private final String field;
  private final String reason;

  public InvalidInputException(String field, String reason) {
    super("invalid " + Objects.requireNonNull(field, "field") + ": " + reason);
    this.field = field;
    this.reason = reason;
  }

  /** The name of the rejected field, e.g. {@code "site"} or {@code "path"}. */
  public String field() {
    return field;
  }

  /** Why the value was rejected, without the field name. */
  public String reason() {
    return reason;
  }
}
