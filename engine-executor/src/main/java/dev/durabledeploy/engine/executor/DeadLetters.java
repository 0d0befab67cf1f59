package dev.durabledeploy.engine.executor;

import dev.durabledeploy.spi.engine.DeadLetter;
import dev.durabledeploy.spi.engine.RunId;
import dev.durabledeploy.spi.engine.RunState;
import dev.durabledeploy.spi.events.OperationEvent;
import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs whose attempts ran out or whose failure was permanent, oldest first, until retried or
 * discarded. Every method is called with the engine lock held.
 */
final class DeadLetters {

  private static final Logger LOG = LoggerFactory.getLogger(DeadLetters.class);

  private final Clock clock;
  private final Consumer<OperationEvent> publish;
  private final LinkedHashMap<RunId, DeadLetter> letters = new LinkedHashMap<>();

  DeadLetters(Clock clock, Consumer<OperationEvent> publish) {
    this.clock = clock;
    this.publish = publish;
  }

  /** Dead-letters the run, announces it, and completes its submission. */
  /** How many dead letters there are (caller holds the engine's lock). */
  int size() {
    return letters.size();
  }

  void add(Run run) {
    run.set(RunState.DEAD_LETTERED);
    letters.put(
        run.id,
        new DeadLetter(
            run.id,
            run.definition.name(),
            run.input,
            run.key,
            run.attempts,
            run.lastError,
            run.updatedAt));
    LOG.warn(
        "workflow {} run {} dead-lettered after {} attempt(s): {}",
        run.definition.name(),
        run.id,
        run.attempts,
        run.lastError);
    publish.accept(
        new OperationEvent.DeadLettered(
            run.id.value(),
            run.definition.name(),
            run.site(),
            run.attempts,
            run.lastError,
            clock.instant()));
    // A dead letter is an outcome: the event was handled, and the key moves on (E5).
    run.done.complete(run.handle(false));
  }

  List<DeadLetter> list(int limit) {
    return letters.values().stream().limit(limit).toList();
  }

  Optional<DeadLetter> find(RunId id) {
    return Optional.ofNullable(letters.get(id));
  }

  /** The letter, removed; null when there is none. */
  DeadLetter remove(RunId id) {
    return letters.remove(id);
  }
}
