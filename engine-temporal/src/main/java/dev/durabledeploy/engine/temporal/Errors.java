package dev.durabledeploy.engine.temporal;

import dev.durabledeploy.spi.Inputs;
import io.grpc.StatusRuntimeException;

/** Errors as text. */
final class Errors {

  private Errors() {}

  /**
   * An error as text for messages, dead letters and run status (which Temporal keeps in workflow
   * history), scrubbed of anything that looks like a secret, as the core does for its events.
   */
  static String describe(Throwable e) {
    if (e == null) {
      return "unknown error";
    }
    if (e instanceof StatusRuntimeException grpc) {
      return Inputs.redactCredentials(
          "gRPC " + grpc.getStatus().getCode() + " " + grpc.getStatus().getDescription());
    }
    String message = e.getMessage();
    return Inputs.redactCredentials(
        e.getClass().getSimpleName() + (message == null ? "" : ": " + message));
  }
}
