package dev.durabledeploy.examples.hostile;

import dev.durabledeploy.spi.blob.BlobContent;
import dev.durabledeploy.spi.blob.BlobInfo;
import dev.durabledeploy.spi.blob.BlobKey;
import dev.durabledeploy.spi.blob.BlobMetadata;
import dev.durabledeploy.spi.blob.BlobPage;
import dev.durabledeploy.spi.blob.BlobPrefix;
import dev.durabledeploy.spi.blob.BlobStore;
import java.io.InputStream;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;
import java.util.function.Supplier;

/**
 * A delegating blob store (public SPI only) that runs a hook right before or right after a chosen
 * call on a chosen key: the way a hostile test parks a saga at an exact step (a gate) or makes a
 * call fail after it took effect.
 */
final class HookedBlobStore implements BlobStore {

  enum Op {
    PUT,
    CREATE,
    GET,
    STAT,
    LIST,
    DELETE,
    DELETE_PREFIX,
    MOVE_PREFIX
  }

  private record Hook(
      Op op, Predicate<String> key, boolean before, Runnable action, AtomicInteger remaining) {}

  private final BlobStore delegate;
  private final List<Hook> hooks = new CopyOnWriteArrayList<>();

  HookedBlobStore(BlobStore delegate) {
    this.delegate = delegate;
  }

  BlobStore delegate() {
    return delegate;
  }

  /** Runs {@code action} before the next {@code times} calls of {@code op} on a matching key. */
  HookedBlobStore before(Op op, Predicate<String> key, int times, Runnable action) {
    hooks.add(new Hook(op, key, true, action, new AtomicInteger(times)));
    return this;
  }

  /** Runs {@code action} after the next {@code times} calls took effect (before they return). */
  HookedBlobStore after(Op op, Predicate<String> key, int times, Runnable action) {
    hooks.add(new Hook(op, key, false, action, new AtomicInteger(times)));
    return this;
  }

  void clear() {
    hooks.clear();
  }

  private void fire(Op op, String key, boolean before) {
    for (Hook h : hooks) {
      if (h.op() == op && h.before() == before && h.key().test(key)) {
        if (h.remaining().getAndDecrement() > 0) {
          h.action().run();
        }
      }
    }
  }

  private <T> T call(Op op, String key, Supplier<T> body) {
    fire(op, key, true);
    T result = body.get();
    fire(op, key, false);
    return result;
  }

  @Override
  public BlobInfo put(BlobKey key, InputStream data, long size, BlobMetadata metadata) {
    return call(Op.PUT, key.value(), () -> delegate.put(key, data, size, metadata));
  }

  @Override
  public BlobInfo create(BlobKey key, InputStream data, long size, BlobMetadata metadata) {
    return call(Op.CREATE, key.value(), () -> delegate.create(key, data, size, metadata));
  }

  @Override
  public boolean supportsCreate() {
    return delegate.supportsCreate();
  }

  @Override
  public Optional<BlobContent> get(BlobKey key) {
    return call(Op.GET, key.value(), () -> delegate.get(key));
  }

  @Override
  public Optional<BlobInfo> stat(BlobKey key) {
    return call(Op.STAT, key.value(), () -> delegate.stat(key));
  }

  @Override
  public BlobPage list(BlobPrefix prefix, BlobKey startAfter, int limit) {
    return call(Op.LIST, prefix.value(), () -> delegate.list(prefix, startAfter, limit));
  }

  @Override
  public void delete(BlobKey key) {
    call(
        Op.DELETE,
        key.value(),
        () -> {
          delegate.delete(key);
          return null;
        });
  }

  @Override
  public long deletePrefix(BlobPrefix prefix) {
    return call(Op.DELETE_PREFIX, prefix.value(), () -> delegate.deletePrefix(prefix));
  }

  @Override
  public long movePrefix(BlobPrefix from, BlobPrefix to) {
    return call(Op.MOVE_PREFIX, from.value(), () -> delegate.movePrefix(from, to));
  }

  @Override
  public void close() {
    delegate.close();
  }
}
