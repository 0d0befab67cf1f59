package dev.durabledeploy.spi.lock;

/**
 * A check that a long operation runs before each of its side effects, so that a caller who lost the
 * right to act stops between two effects instead of after all of them. The library passes its site
 * lock's check ({@link SiteLock#isHeld()}, raising {@link
 * dev.durabledeploy.spi.exception.SiteLockLostException}) to the bulk blob operations {@link
 * dev.durabledeploy.spi.blob.BlobStore#movePrefix(dev.durabledeploy.spi.blob.BlobPrefix,
 * dev.durabledeploy.spi.blob.BlobPrefix, Fence)} and {@link
 * dev.durabledeploy.spi.blob.BlobStore#deletePrefix(dev.durabledeploy.spi.blob.BlobPrefix, Fence)}:
 * a saga whose lock expired while it moved a prefix object by object stops at the next object,
 * before it can undo what the lock's new holder did.
 *
 * <p>A check must be cheap (no round trip: it runs once per object) and thread-safe.
 */
@FunctionalInterface
public interface Fence {

  /** A fence that never stops anything: for callers that hold no lock. */
  Fence NONE = () -> {};

  /**
   * Returns when the caller may go on; throws the caller's exception (for the library: {@link
   * dev.durabledeploy.spi.exception.SiteLockLostException}) when it may not. An operation that gets
   * the exception stops at once and rethrows it unchanged.
   */
  void check();
}
