package dev.durabledeploy.git.jgit;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The exclusive lock of one working tree: held while a tree is cloned into place, replaced or
 * evicted, by one thread of one process at a time, across every {@link JGitRepoSource} that shares
 * the volume.
 *
 * <p>Processes are serialised by an OS file lock on the tree's lock file. Threads of one JVM cannot
 * be: the JVM holds file locks per process and refuses a second lock on a file it already locks
 * with {@link java.nio.channels.OverlappingFileLockException} instead of making the caller wait. So
 * a thread first takes this JVM's in-process lock of that file, then the file lock. The registry of
 * in-process locks is static on purpose, the one piece of static state in the library: the file
 * lock it guards is itself JVM-wide, and a registry per instance would let two sources on one root
 * (or an {@link JGitRepoSource#evict evict} racing a clone in another instance) collide again.
 * Entries are keyed by the lock file's identity (device and inode where the filesystem has them,
 * else its real path), counted by their users, and removed when the last one lets go, so the
 * registry holds only the locks in use.
 */
final class TreeLock implements AutoCloseable {

  private static final ConcurrentHashMap<Object, Entry> IN_PROCESS = new ConcurrentHashMap<>();

  private static final class Entry {
    final ReentrantLock lock = new ReentrantLock();
    int users; // changed only inside IN_PROCESS.compute
  }

  private final Object key;
  private final Entry entry;
  private final FileChannel channel;
  private final FileLock held;

  private TreeLock(Object key, Entry entry, FileChannel channel, FileLock held) {
    this.key = key;
    this.entry = entry;
    this.channel = channel;
    this.held = held;
  }

  /**
   * Waits for the tree's lock: first for the threads of this JVM, then for other processes.
   *
   * @throws InterruptedIOException when the waiting thread is interrupted
   */
  static TreeLock acquire(Path lockFile) throws IOException {
    FileChannel channel =
        FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
    Object key = null;
    Entry entry = null;
    boolean locked = false;
    try {
      Object fileKey = Files.readAttributes(lockFile, BasicFileAttributes.class).fileKey();
      key = fileKey != null ? fileKey : lockFile.toRealPath();
      entry = IN_PROCESS.compute(key, (k, e) -> register(e));
      if (entry.lock.isHeldByCurrentThread()) {
        throw new IllegalStateException(
            "the lock of " + lockFile.getFileName() + " is already held by this thread");
      }
      entry.lock.lockInterruptibly();
      try {
        FileLock held = channel.lock();
        locked = true;
        return new TreeLock(key, entry, channel, held);
      } finally {
        if (!locked) {
          entry.lock.unlock();
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException(
          "interrupted while waiting for the lock of " + lockFile.getFileName());
    } finally {
      if (!locked) {
        channel.close();
        if (entry != null) {
          unregister(key);
        }
      }
    }
  }

  private static Entry register(Entry existing) {
    Entry e = existing != null ? existing : new Entry();
    e.users++;
    return e;
  }

  private static void unregister(Object key) {
    IN_PROCESS.compute(key, (k, e) -> --e.users == 0 ? null : e);
  }

  /** Releases the file lock, then lets the next thread of this JVM in. */
  @Override
  public void close() throws IOException {
    try {
      held.release();
      channel.close();
    } finally {
      entry.lock.unlock();
      unregister(key);
    }
  }
}
