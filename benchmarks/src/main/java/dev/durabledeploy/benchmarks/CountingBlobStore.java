package dev.durabledeploy.benchmarks;

import dev.durabledeploy.spi.blob.BlobContent;
import dev.durabledeploy.spi.blob.BlobInfo;
import dev.durabledeploy.spi.blob.BlobKey;
import dev.durabledeploy.spi.blob.BlobMetadata;
import dev.durabledeploy.spi.blob.BlobPage;
import dev.durabledeploy.spi.blob.BlobPrefix;
import dev.durabledeploy.spi.blob.BlobStore;
import dev.durabledeploy.spi.lock.Fence;
import java.io.InputStream;
import java.util.EnumMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.LongAdder;

/**
 * A {@link BlobStore} that counts the requests made of the store it wraps, by kind; a paged {@link
 * #listAll} counts one list per page, as a remote store would be asked.
 */
final class CountingBlobStore implements BlobStore {

  enum Kind {
    LIST,
    GET,
    STAT,
    PUT,
    CREATE,
    DELETE,
    DELETE_PREFIX,
    MOVE_PREFIX
  }

  private final BlobStore delegate;
  private final Map<Kind, LongAdder> counts = counters();
  private final Map<Kind, LongAdder> watchedCounts = counters();
  private final Map<Kind, LongAdder> nanos = counters();
  private volatile Thread watched;

  CountingBlobStore(BlobStore delegate) {
    this.delegate = delegate;
  }

  private static Map<Kind, LongAdder> counters() {
    Map<Kind, LongAdder> out = new EnumMap<>(Kind.class);
    for (Kind kind : Kind.values()) {
      out.put(kind, new LongAdder());
    }
    return out;
  }

  /** The requests counted since the last reset, by kind. */
  Map<Kind, Long> snapshot() {
    return sums(counts);
  }

  /** The time spent in the requests counted, by kind, in milliseconds. */
  Map<Kind, Long> millis() {
    Map<Kind, Long> out = sums(nanos);
    out.replaceAll((k, v) -> v / 1_000_000);
    return out;
  }

  /** Of {@link #snapshot()}, those made on the thread given to the last {@link #reset}. */
  Map<Kind, Long> watchedSnapshot() {
    return sums(watchedCounts);
  }

  private static Map<Kind, Long> sums(Map<Kind, LongAdder> counters) {
    Map<Kind, Long> out = new EnumMap<>(Kind.class);
    counters.forEach((kind, n) -> out.put(kind, n.sum()));
    return out;
  }

  /** Starts counting from zero, and apart the requests made on {@code thread}. */
  void reset(Thread thread) {
    watched = thread;
    counts.values().forEach(LongAdder::reset);
    watchedCounts.values().forEach(LongAdder::reset);
    nanos.values().forEach(LongAdder::reset);
  }

  private <T> T count(Kind kind, java.util.function.Supplier<T> call) {
    counts.get(kind).increment();
    if (Thread.currentThread() == watched) {
      watchedCounts.get(kind).increment();
    }
    long t0 = System.nanoTime();
    try {
      return call.get();
    } finally {
      nanos.get(kind).add(System.nanoTime() - t0);
    }
  }

  @Override
  public BlobInfo put(BlobKey key, InputStream data, long size, BlobMetadata metadata) {
    return count(Kind.PUT, () -> delegate.put(key, data, size, metadata));
  }

  @Override
  public BlobInfo create(BlobKey key, InputStream data, long size, BlobMetadata metadata) {
    return count(Kind.CREATE, () -> delegate.create(key, data, size, metadata));
  }

  @Override
  public boolean supportsCreate() {
    return delegate.supportsCreate();
  }

  @Override
  public Optional<BlobContent> get(BlobKey key) {
    return count(Kind.GET, () -> delegate.get(key));
  }

  @Override
  public Optional<BlobInfo> stat(BlobKey key) {
    return count(Kind.STAT, () -> delegate.stat(key));
  }

  @Override
  public BlobPage list(BlobPrefix prefix, BlobKey startAfter, int limit) {
    return count(Kind.LIST, () -> delegate.list(prefix, startAfter, limit));
  }

  @Override
  public void delete(BlobKey key) {
    count(
        Kind.DELETE,
        () -> {
          delegate.delete(key);
          return null;
        });
  }

  @Override
  public long deletePrefix(BlobPrefix prefix) {
    return count(Kind.DELETE_PREFIX, () -> delegate.deletePrefix(prefix));
  }

  @Override
  public long deletePrefix(BlobPrefix prefix, Fence fence) {
    return count(Kind.DELETE_PREFIX, () -> delegate.deletePrefix(prefix, fence));
  }

  @Override
  public long movePrefix(BlobPrefix from, BlobPrefix to) {
    return count(Kind.MOVE_PREFIX, () -> delegate.movePrefix(from, to));
  }

  @Override
  public long movePrefix(BlobPrefix from, BlobPrefix to, Fence fence) {
    return count(Kind.MOVE_PREFIX, () -> delegate.movePrefix(from, to, fence));
  }

  @Override
  public void close() {
    delegate.close();
  }
}
