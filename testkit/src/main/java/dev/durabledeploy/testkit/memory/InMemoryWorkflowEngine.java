package dev.durabledeploy.testkit.memory;

/**
 * The old name of {@link dev.durabledeploy.store.memory.InMemoryWorkflowEngine}, which moved to the
 * {@code store-memory} module (package {@code dev.durabledeploy.store.memory}), so that hosts can
 * use the in-memory adapters without a test library on their class path. Kept for one release:
 * change the import; {@code testkit} brings {@code store-memory} along.
 *
 * @deprecated use {@link dev.durabledeploy.store.memory.InMemoryWorkflowEngine}
 */
@Deprecated(since = "0.1.0", forRemoval = true)
public final class InMemoryWorkflowEngine
    extends dev.durabledeploy.store.memory.InMemoryWorkflowEngine {

  /** The in-memory engine on {@code clock} and {@code random}. */
  public InMemoryWorkflowEngine(java.time.Clock clock, java.util.random.RandomGenerator random) {
    super(clock, random);
  }

  /** The in-memory engine on the system clock. */
  public InMemoryWorkflowEngine() {
    super();
  }
}
