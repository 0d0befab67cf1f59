package dev.durabledeploy.spi.engine;

import dev.durabledeploy.spi.Inputs;
import java.util.Map;
import java.util.Objects;

/**
 * A request to run a workflow.
 *
 * @param idempotencyKey a second submission with the same key (per workflow) while the first run is
 *     pending, or done within the engine's idempotency window, returns the first run's handle and
 *     starts nothing; {@code null} for none. The relay uses the outbox event id.
 */
public record Submission(String workflow, Map<String, String> input, String idempotencyKey) {

  public Submission {
    Inputs.requireText("workflow", workflow, 64);
    input = Map.copyOf(Objects.requireNonNull(input, "input"));
    if (idempotencyKey != null) {
      Inputs.requireText("idempotencyKey", idempotencyKey, 200);
    }
  }

  public static Submission of(String workflow, Map<String, String> input) {
    return new Submission(workflow, input, null);
  }

  /**
   * The key an engine deduplicates on: the idempotency key scoped to its workflow, since keys are
   * unique per workflow only; {@code null} when the submission has no idempotency key.
   */
  public String scopedIdempotencyKey() {
    return idempotencyKey == null ? null : workflow + "\u0000" + idempotencyKey;
  }
}
