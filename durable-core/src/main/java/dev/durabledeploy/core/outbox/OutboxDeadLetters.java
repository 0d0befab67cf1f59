package dev.durabledeploy.core.outbox;

import dev.durabledeploy.core.events.Operations;
import dev.durabledeploy.core.retry.Retrier;
import dev.durabledeploy.spi.Actions;
import dev.durabledeploy.spi.Actor;
import dev.durabledeploy.spi.Inputs;
import dev.durabledeploy.spi.exception.InvalidInputException;
import dev.durabledeploy.spi.outbox.Outbox;
import dev.durabledeploy.spi.outbox.OutboxDeadLetter;
import java.util.List;

/**
 * What a host (or its operator) does with outbox events the relay gave up on: list them with their
 * last error, retry one once its cause is fixed, or discard one that should never run. A retried
 * event is delivered before its site's later undelivered events, but after those delivered while it
 * was a dead letter (see {@link Outbox} for the ordering rule). Each call is one store operation,
 * retried like every other call the library makes.
 *
 * <p>Retry and discard ask the authorizer first, across all sites, as the actor of the view ({@link
 * #as}; {@link Actor#SYSTEM} without one); listing is a read and is not checked.
 */
public final class OutboxDeadLetters {

  /** Most dead letters one {@link #list} returns. */
  public static final int MAX_LIST = 10_000;

  private final Outbox outbox;
  private final OutboxRelay relay;
  private final Operations operations;
  private final Retrier retrier;
  private final Actor actor;

  public OutboxDeadLetters(
      Outbox outbox, OutboxRelay relay, Operations operations, Retrier retrier) {
    this(outbox, relay, operations, retrier, Actor.SYSTEM);
  }

  private OutboxDeadLetters(
      Outbox outbox, OutboxRelay relay, Operations operations, Retrier retrier, Actor actor) {
    this.outbox = outbox;
    this.relay = relay;
    this.operations = operations;
    this.retrier = retrier;
    this.actor = java.util.Objects.requireNonNull(actor, "actor");
  }

  /** The same dead letters, asking the authorizer about {@code actor}. */
  public OutboxDeadLetters as(Actor actor) {
    return new OutboxDeadLetters(outbox, relay, operations, retrier, actor);
  }

  /** Up to {@code limit} (1 to {@value #MAX_LIST}) dead letters, oldest event first. */
  public List<OutboxDeadLetter> list(int limit) {
    Inputs.requireRange("limit", limit, 1, MAX_LIST);
    return operations.run(
        "outbox-dead-letters", null, op -> retrier.call(op, () -> outbox.deadLetters(limit)));
  }

  /**
   * Puts a dead letter back in its site's queue, due now, with a fresh budget of failures, and
   * wakes the relay. Returns false when {@code eventId} is not (or no longer) a dead letter.
   */
  public boolean retry(long eventId) {
    requireId(eventId);
    operations.authorize(actor, null, Actions.OUTBOX_DEAD_LETTER_RETRY);
    boolean retried =
        operations.run(
            "outbox-dead-letter-retry",
            null,
            op -> retrier.call(op, () -> outbox.retryDeadLetter(eventId)));
    if (retried) {
      relay.wake();
    }
    return retried;
  }

  /** Deletes a dead letter for good. Returns false when {@code eventId} is not a dead letter. */
  public boolean discard(long eventId) {
    requireId(eventId);
    operations.authorize(actor, null, Actions.OUTBOX_DEAD_LETTER_DISCARD);
    return operations.run(
        "outbox-dead-letter-discard",
        null,
        op -> retrier.call(op, () -> outbox.discardDeadLetter(eventId)));
  }

  private static void requireId(long eventId) {
    if (eventId < 1) {
      throw new InvalidInputException("eventId", "must be a positive outbox event id");
    }
  }
}
