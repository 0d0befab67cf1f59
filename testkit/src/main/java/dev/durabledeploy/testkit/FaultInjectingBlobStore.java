package dev.durabledeploy.testkit;

import dev.durabledeploy.spi.blob.BlobContent;
import dev.durabledeploy.spi.blob.BlobInfo;
import dev.durabledeploy.spi.blob.BlobKey;
import dev.durabledeploy.spi.blob.BlobMetadata;
import dev.durabledeploy.spi.blob.BlobPage;
import dev.durabledeploy.spi.blob.BlobPrefix;
import dev.durabledeploy.spi.blob.BlobStore;
import dev.durabledeploy.spi.exception.TransientStoreException;
import dev.durabledeploy.spi.lock.Fence;
import java.io.InputStream;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import java.util.random.RandomGenerator;

/**
 * A blob store decorator that fails on purpose, to prove sagas converge when re-run: fail the N-th
 * call before or after it takes effect, fail a fraction of calls at random, add latency. Failures
 * are {@link TransientStoreException} unless another exception is configured.
 */
public final class FaultInjectingBlobStore implements BlobStore {

  /** Whether an injected fault hides a call's effect or only its answer. */
  public enum When {
    /** The call fails before reaching the store: nothing happened. */
    BEFORE,
    /** The call takes effect, then fails: the caller cannot tell it succeeded. */
    AFTER
  }

  private final BlobStore delegate;
  private final AtomicInteger calls = new AtomicInteger();
  private final AtomicInteger completed = new AtomicInteger();
  private volatile int failOnCall = -1;
  private volatile When when = When.BEFORE;
  private volatile double failureRate;
  private volatile RandomGenerator random;
  private volatile Duration latency = Duration.ZERO;
  private volatile boolean faultsAfterToo;
  private volatile int actOnCall = -1;
  private volatile Runnable action = () -> {};
  private volatile int afterCall = -1;
  private volatile Runnable afterAction = () -> {};
  private volatile Supplier<RuntimeException> fault =
      () -> new TransientStoreException("injected blob store fault");

  public FaultInjectingBlobStore(BlobStore delegate) {
    this.delegate = delegate;
  }

  /** Fails call number {@code n} (1-based, counted from now on), once. */
  public FaultInjectingBlobStore failOnCall(int n, When when) {
    calls.set(0);
    this.failOnCall = n;
    this.when = when;
    return this;
  }

  /**
   * Runs {@code action} right before call number {@code n} (1-based, counted from now on), once,
   * without failing anything: a concurrent writer acting at a precise point of a saga.
   */
  public FaultInjectingBlobStore onCall(int n, Runnable action) {
    calls.set(0);
    this.actOnCall = n;
    this.action = action;
    return this;
  }

  /**
   * Runs {@code action} once, right after the {@code n}-th call to finish from now on (1-based)
   * took effect and before it returns: a concurrent writer acting between a saga's write and its
   * next step. Calls are counted as they finish, so a call already blocked inside the store (a
   * write reading a gated stream) counts when it completes. An exception of the action fails the
   * call as if the process died there.
   */
  public FaultInjectingBlobStore afterCall(int n, Runnable action) {
    completed.set(0);
    this.afterCall = n;
    this.afterAction = action;
    return this;
  }

  /** Fails each call with probability {@code rate}, before it takes effect. */
  public FaultInjectingBlobStore failRandomly(double rate, RandomGenerator random) {
    this.failureRate = rate;
    this.random = random;
    this.faultsAfterToo = false;
    return this;
  }

  /**
   * Fails each call with probability {@code rate}; half of those faults come after the call took
   * effect, as when the store did the work and the response was lost.
   */
  public FaultInjectingBlobStore failRandomlyEitherSide(double rate, RandomGenerator random) {
    failRandomly(rate, random);
    this.faultsAfterToo = true;
    return this;
  }

  /** Adds {@code latency} to every call. */
  public FaultInjectingBlobStore latency(Duration latency) {
    this.latency = latency;
    return this;
  }

  /** What an injected fault throws (default: a transient store exception). */
  public FaultInjectingBlobStore throwing(Supplier<RuntimeException> fault) {
    this.fault = fault;
    return this;
  }

  /** Stops injecting faults. */
  public FaultInjectingBlobStore heal() {
    failOnCall = -1;
    actOnCall = -1;
    afterCall = -1;
    failureRate = 0;
    return this;
  }

  /** Calls since the last {@link #failOnCall}. */
  public int calls() {
    return calls.get();
  }

  private <T> T call(Supplier<T> body) {
    pause();
    int n = calls.incrementAndGet();
    if (n == actOnCall) {
      action.run();
    }
    boolean injected = n == failOnCall;
    boolean randomFault;
    boolean randomFaultAfter;
    synchronized (this) { // the generator is not thread-safe; sagas and workers call concurrently
      randomFault = failureRate > 0 && random.nextDouble() < failureRate;
      randomFaultAfter = randomFault && faultsAfterToo && random.nextBoolean();
    }
    if ((injected && when == When.BEFORE) || (randomFault && !randomFaultAfter)) {
      throw fault.get();
    }
    T result = body.get();
    if (completed.incrementAndGet() == afterCall) {
      try {
        afterAction.run();
      } catch (RuntimeException e) {
        closeIfContent(result);
        throw e;
      }
    }
    if (injected || randomFaultAfter) {
      closeIfContent(result);
      throw fault.get();
    }
    return result;
  }

  private static void closeIfContent(Object result) {
    if (result instanceof Optional<?> o && o.orElse(null) instanceof BlobContent content) {
      content.close();
    }
  }

  private void pause() {
    if (!latency.isZero()) {
      try {
        Thread.sleep(latency.toMillis());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  @Override
  public BlobInfo put(BlobKey key, InputStream data, long size, BlobMetadata metadata) {
    return call(() -> delegate.put(key, data, size, metadata));
  }

  @Override
  public BlobInfo create(BlobKey key, InputStream data, long size, BlobMetadata metadata) {
    return call(() -> delegate.create(key, data, size, metadata));
  }

  @Override
  public boolean supportsCreate() {
    return delegate.supportsCreate();
  }

  @Override
  public Optional<BlobContent> get(BlobKey key) {
    return call(() -> delegate.get(key));
  }

  @Override
  public Optional<BlobInfo> stat(BlobKey key) {
    return call(() -> delegate.stat(key));
  }

  @Override
  public BlobPage list(BlobPrefix prefix, BlobKey startAfter, int limit) {
    return call(() -> delegate.list(prefix, startAfter, limit));
  }

  @Override
  public void delete(BlobKey key) {
    call(
        () -> {
          delegate.delete(key);
          return null;
        });
  }

  @Override
  public long deletePrefix(BlobPrefix prefix) {
    return call(() -> delegate.deletePrefix(prefix));
  }

  @Override
  public long movePrefix(BlobPrefix from, BlobPrefix to) {
    return call(() -> delegate.movePrefix(from, to));
  }

  // The fenced variants reach the delegate's, so the store under test still fences per object.

  @Override
  public long deletePrefix(BlobPrefix prefix, Fence fence) {
    return call(() -> delegate.deletePrefix(prefix, fence));
  }

  @Override
  public long movePrefix(BlobPrefix from, BlobPrefix to, Fence fence) {
    return call(() -> delegate.movePrefix(from, to, fence));
  }

  @Override
  public void close() {
    delegate.close();
  }
}
