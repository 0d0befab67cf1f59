package dev.durabledeploy.testkit.memory;

/**
 * The old name of {@link dev.durabledeploy.store.memory.InMemoryStore}, which moved to the {@code
 * store-memory} module (package {@code dev.durabledeploy.store.memory}), so that hosts can use the
 * in-memory adapters without a test library on their class path. Kept for one release: change the
 * import; {@code testkit} brings {@code store-memory} along.
 *
 * @deprecated use {@link dev.durabledeploy.store.memory.InMemoryStore}
 */
@Deprecated(since = "0.1.0", forRemoval = true)
public final class InMemoryStore extends dev.durabledeploy.store.memory.InMemoryStore {

  /** The in-memory store on {@code clock}. */
  public InMemoryStore(java.time.Clock clock) {
    super(clock);
  }

  /** The in-memory store on the system clock. */
  public InMemoryStore() {
    super();
  }
}
