package dev.durabledeploy.spi.git;

import java.nio.file.Path;

/**
 * The re-clone chokepoint: working trees are a cache of the remote that may vanish at any time, so
 * every reader asks for a tree through {@link #ensureClone} and gets one that is complete. Failures
 * are {@link dev.durabledeploy.spi.exception.RepoCloneException} with an actionable, redacted
 * message. Implementations are thread-safe.
 */
public interface RepoSource extends AutoCloseable {

  /**
   * The path of a complete working tree of {@code repo}, materialising it first if missing. A warm
   * hit does no git call. Concurrent callers for one repo cause one clone and all get its result; a
   * half-written tree is never visible.
   */
  Path ensureClone(RepoRef repo);

  /** Brings the tree to the branch head, atomically for readers, and returns its path. */
  Path refresh(RepoRef repo);

  /**
   * Removes the tree; returns false when there was none. The next {@link #ensureClone} re-clones.
   */
  boolean evict(RepoRef repo);

  @Override
  default void close() {}
}
