package dev.durabledeploy.testkit.memory;

/**
 * The old name of {@link dev.durabledeploy.store.memory.InMemoryRepoSource}, which moved to the
 * {@code store-memory} module (package {@code dev.durabledeploy.store.memory}), so that hosts can
 * use the in-memory adapters without a test library on their class path. Kept for one release:
 * change the import; {@code testkit} brings {@code store-memory} along.
 *
 * @deprecated use {@link dev.durabledeploy.store.memory.InMemoryRepoSource}
 */
@Deprecated(since = "0.1.0", forRemoval = true)
public final class InMemoryRepoSource extends dev.durabledeploy.store.memory.InMemoryRepoSource {

  /** The in-memory repo source under {@code root}. */
  public InMemoryRepoSource(java.nio.file.Path root) {
    super(root);
  }
}
