package dev.durabledeploy.core;

import java.util.concurrent.ThreadLocalRandom;
import java.util.random.RandomGenerator;

/**
 * The randomness {@link DurableDeploy} hands to every service, which call it from many threads at
 * once. {@code SplittableRandom}-like generators are not thread-safe (two threads can draw the same
 * value, and with it the same deploy id suffix), so the default draws from each calling thread's
 * {@link ThreadLocalRandom}, and an injected generator (a seeded one, for deterministic tests) is
 * called under a lock, one draw at a time, in the order callers take it.
 */
final class SharedRandom {

  private SharedRandom() {}

  /** Each draw comes from the calling thread's own generator: no lock, no shared state. */
  static final RandomGenerator THREAD_LOCAL =
      new RandomGenerator() {
        @Override
        public long nextLong() {
          return ThreadLocalRandom.current().nextLong();
        }

        @Override
        public int nextInt() {
          return ThreadLocalRandom.current().nextInt();
        }

        @Override
        public int nextInt(int bound) {
          return ThreadLocalRandom.current().nextInt(bound);
        }

        @Override
        public long nextLong(long bound) {
          return ThreadLocalRandom.current().nextLong(bound);
        }

        @Override
        public double nextDouble() {
          return ThreadLocalRandom.current().nextDouble();
        }
      };

  /** {@code generator} behind a lock; the default is returned as it is. */
  static RandomGenerator serialised(RandomGenerator generator) {
    if (generator == THREAD_LOCAL || generator instanceof Serialised) {
      return generator;
    }
    return new Serialised(generator);
  }

  /**
   * Lock: the wrapper itself, serialising every draw from the one injected generator; it protects
   * the generator's state, which a concurrent draw would corrupt or repeat.
   */
  private static final class Serialised implements RandomGenerator {
    private final RandomGenerator delegate;

    Serialised(RandomGenerator delegate) {
      this.delegate = delegate;
    }

    @Override
    public synchronized long nextLong() {
      return delegate.nextLong();
    }

    @Override
    public synchronized int nextInt() {
      return delegate.nextInt();
    }

    @Override
    public synchronized int nextInt(int bound) {
      return delegate.nextInt(bound);
    }

    @Override
    public synchronized int nextInt(int origin, int bound) {
      return delegate.nextInt(origin, bound);
    }

    @Override
    public synchronized long nextLong(long bound) {
      return delegate.nextLong(bound);
    }

    @Override
    public synchronized long nextLong(long origin, long bound) {
      return delegate.nextLong(origin, bound);
    }

    @Override
    public synchronized double nextDouble() {
      return delegate.nextDouble();
    }

    @Override
    public synchronized double nextDouble(double bound) {
      return delegate.nextDouble(bound);
    }

    @Override
    public synchronized double nextDouble(double origin, double bound) {
      return delegate.nextDouble(origin, bound);
    }

    @Override
    public synchronized boolean nextBoolean() {
      return delegate.nextBoolean();
    }

    @Override
    public synchronized float nextFloat() {
      return delegate.nextFloat();
    }

    @Override
    public synchronized void nextBytes(byte[] bytes) {
      delegate.nextBytes(bytes);
    }
  }
}
