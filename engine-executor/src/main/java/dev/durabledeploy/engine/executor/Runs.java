package dev.durabledeploy.engine.executor;

import dev.durabledeploy.spi.engine.RunId;
import dev.durabledeploy.spi.engine.WorkflowDefinition;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import java.util.random.RandomGenerator;

/**
 * The runs the engine knows: the live ones, the newest finished ones (so their status stays
 * queryable), and the runs behind recent idempotency keys. Every method is called with the engine
 * lock held.
 */
final class Runs {

  private final Clock clock;
  private final Duration idempotencyWindow;
  private final int retained;
  private final String idPrefix;
  private final AtomicLong ids = new AtomicLong();
  private final Map<RunId, Run> live = new HashMap<>();
  private final LinkedHashMap<RunId, Run> finished = new LinkedHashMap<>();
  private final Map<String, Run> idempotent = new HashMap<>();

  Runs(Clock clock, RandomGenerator random, Duration idempotencyWindow, int retained) {
    this.clock = clock;
    this.idempotencyWindow = idempotencyWindow;
    this.retained = retained;
    // Ids stay unique across engines and restarts of one host without a counter on disk.
    this.idPrefix = String.format(Locale.ROOT, "run-%06x-", random.nextInt(1 << 24));
  }

  /** A new live run. */
  Run create(WorkflowDefinition definition, Map<String, String> input, boolean acceptOnEnqueue) {
    Run run =
        new Run(
            new RunId(idPrefix + ids.incrementAndGet()), definition, input, acceptOnEnqueue, clock);
    live.put(run.id, run);
    return run;
  }

  /** The run an idempotency key was given to within the window, if any. */
  Optional<Run> earlier(String idempotencyKey) {
    Run earlier = idempotencyKey == null ? null : idempotent.get(idempotencyKey);
    if (earlier == null
        || Duration.between(earlier.submittedAt, clock.instant()).compareTo(idempotencyWindow)
            >= 0) {
      return Optional.empty();
    }
    return Optional.of(earlier);
  }

  void remember(String idempotencyKey, Run run) {
    if (idempotencyKey == null) {
      return;
    }
    idempotent.put(idempotencyKey, run);
    if (idempotent.size() % 1024 == 0) {
      Instant cutoff = clock.instant().minus(idempotencyWindow);
      idempotent.values().removeIf(r -> r.submittedAt.isBefore(cutoff));
    }
  }

  /** Moves the run to the retained finished runs, forgetting the oldest past the retention. */
  void finish(Run run) {
    live.remove(run.id);
    finished.put(run.id, run);
    if (finished.size() > retained) {
      Iterator<RunId> oldest = finished.keySet().iterator();
      oldest.next();
      oldest.remove();
    }
  }

  Optional<Run> find(RunId id) {
    return Optional.ofNullable(live.getOrDefault(id, finished.get(id)));
  }

  Optional<Run> finished(RunId id) {
    return Optional.ofNullable(finished.get(id));
  }

  List<Run> live() {
    return List.copyOf(live.values());
  }
}
