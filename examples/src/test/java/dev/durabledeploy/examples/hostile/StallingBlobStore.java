package dev.durabledeploy.examples.hostile;

import dev.durabledeploy.spi.blob.BlobContent;
import dev.durabledeploy.spi.blob.BlobInfo;
import dev.durabledeploy.spi.blob.BlobKey;
import dev.durabledeploy.spi.blob.BlobMetadata;
import dev.durabledeploy.spi.blob.BlobPage;
import dev.durabledeploy.spi.blob.BlobPrefix;
import dev.durabledeploy.spi.blob.BlobStore;
import dev.durabledeploy.spi.lock.Fence;
import java.io.InputStream;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * A host's blob store (a decorator, as a host would write one) whose calls can stall, the way an S3
 * request stalls, or a whole process stalls in a GC pause, while the thread is inside the call.
 *
 * <p>{@link #stallPut} stalls the next put of a matching key before it reaches the store. {@link
 * #stallMoveAfter} makes the next {@code movePrefix} move object by object (list, copy, delete the
 * source — what an S3 store does) and stall after {@code n} objects. Like the library's stores it
 * implements the fenced move, checking the caller's fence before each object's copy and before each
 * delete: a decorator that left the fenced overload to its default would be fenced once per prefix
 * only.
 */
final class StallingBlobStore implements BlobStore {

  private final BlobStore delegate;
  private volatile Stall putStall;
  private volatile Predicate<BlobKey> putMatch;
  private volatile Stall moveStall;
  private volatile int moveAfter;

  /** One armed stall: entered when the call reaches it, released by the test. */
  static final class Stall {
    final CountDownLatch entered = new CountDownLatch(1);
    final CountDownLatch release = new CountDownLatch(1);
    final CountDownLatch done = new CountDownLatch(1);

    void awaitEntered() throws InterruptedException {
      if (!entered.await(60, TimeUnit.SECONDS)) {
        throw new AssertionError("the stalled call was never reached");
      }
    }

    void release() {
      release.countDown();
    }

    void awaitDone() throws InterruptedException {
      if (!done.await(60, TimeUnit.SECONDS)) {
        throw new AssertionError("the stalled call never finished");
      }
    }

    private void hold() {
      entered.countDown();
      try {
        if (!release.await(5, TimeUnit.MINUTES)) {
          throw new IllegalStateException("stall never released");
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException(e);
      }
    }
  }

  StallingBlobStore(BlobStore delegate) {
    this.delegate = delegate;
  }

  Stall stallPut(Predicate<BlobKey> match) {
    Stall s = new Stall();
    putMatch = match;
    putStall = s;
    return s;
  }

  Stall stallMoveAfter(int objects) {
    Stall s = new Stall();
    moveAfter = objects;
    moveStall = s;
    return s;
  }

  @Override
  public BlobInfo put(BlobKey key, InputStream data, long size, BlobMetadata metadata) {
    Stall s = putStall;
    if (s != null && putMatch.test(key)) {
      putStall = null;
      s.hold();
      try {
        return delegate.put(key, data, size, metadata);
      } finally {
        s.done.countDown();
      }
    }
    return delegate.put(key, data, size, metadata);
  }

  @Override
  public BlobInfo create(BlobKey key, InputStream data, long size, BlobMetadata metadata) {
    return delegate.create(key, data, size, metadata);
  }

  @Override
  public boolean supportsCreate() {
    return delegate.supportsCreate();
  }

  @Override
  public Optional<BlobContent> get(BlobKey key) {
    return delegate.get(key);
  }

  @Override
  public Optional<BlobInfo> stat(BlobKey key) {
    return delegate.stat(key);
  }

  @Override
  public BlobPage list(BlobPrefix prefix, BlobKey startAfter, int limit) {
    return delegate.list(prefix, startAfter, limit);
  }

  @Override
  public void delete(BlobKey key) {
    delegate.delete(key);
  }

  @Override
  public long deletePrefix(BlobPrefix prefix) {
    return delegate.deletePrefix(prefix);
  }

  @Override
  public long deletePrefix(BlobPrefix prefix, Fence fence) {
    return delegate.deletePrefix(prefix, fence);
  }

  @Override
  public long movePrefix(BlobPrefix from, BlobPrefix to) {
    return movePrefix(from, to, Fence.NONE);
  }

  @Override
  public long movePrefix(BlobPrefix from, BlobPrefix to, Fence fence) {
    Stall s = moveStall;
    if (s == null) {
      return delegate.movePrefix(from, to, fence);
    }
    moveStall = null;
    try {
      List<BlobInfo> objects = delegate.listAll(from);
      long moved = 0;
      for (BlobInfo info : objects) {
        if (moved == moveAfter) {
          s.hold();
        }
        BlobKey target = to.resolve(info.key().relativeTo(from));
        fence.check();
        Optional<BlobContent> content = delegate.get(info.key());
        if (content.isEmpty()) {
          continue;
        }
        try (BlobContent c = content.get()) {
          delegate.put(target, c.stream(), info.size(), BlobMetadata.ofType("text/html"));
        }
        fence.check();
        delegate.delete(info.key());
        moved++;
      }
      return moved;
    } finally {
      s.done.countDown();
    }
  }

  @Override
  public void close() {
    delegate.close();
  }
}
