package dev.durabledeploy.benchmarks;

import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * One outbox workload, the same for every outbox under test: producer threads commit events for 50
 * sites as fast as they can, each carrying its commit start time; the consumer calls {@link
 * #delivered} from its handler. Measured: committed/s, delivered/s (until the last event arrives)
 * and the lag from commit start to handler.
 */
final class OutboxLoad {

  /**
   * Commits one event for {@code site} carrying a unique {@code seq} and {@code nanoTime}; blocks
   * until committed.
   */
  interface Producer {
    void commit(String site, long seq, long nanoTime) throws Exception;
  }

  record Result(
      String outbox,
      int producers,
      double committedPerSecond,
      double deliveredPerSecond,
      double lagP50Millis,
      double lagP99Millis,
      double commitP99Millis) {}

  static final int SITES = 50;
  private static final int WARMUP_EVENTS = 500;

  private final AtomicLong seq = new AtomicLong();
  private final AtomicInteger delivered = new AtomicInteger();
  private final Set<Long> distinct = ConcurrentHashMap.newKeySet();
  private final ConcurrentLinkedQueue<Long> lags = new ConcurrentLinkedQueue<>();

  /** How long each measured commit took, from its start (the lag's) until it returned. */
  private final ConcurrentLinkedQueue<Long> commits = new ConcurrentLinkedQueue<>();

  private volatile CountDownLatch allDelivered = new CountDownLatch(Integer.MAX_VALUE);

  /**
   * The consumer's handler calls this with the event's {@code seq} and {@code nanoTime}. A
   * redelivery counts in delivered/s but not towards "all delivered".
   */
  void delivered(long seq, long nanoTime) {
    lags.add(System.nanoTime() - nanoTime);
    delivered.incrementAndGet();
    if (distinct.add(seq)) {
      allDelivered.countDown();
    }
  }

  /**
   * Backlog drain: commits {@code events} while the consumer is off, lets {@code settle} pass (for
   * an outbox whose entries become due only after a delay), switches the consumer on with {@code
   * consumerOn} and returns the distinct events delivered per second from then until the last one
   * arrives. This is the delivery capacity, independent of how fast producers commit.
   */
  double drain(String outbox, Producer producer, Duration settle, Runnable consumerOn, int events)
      throws Exception {
    reset(events);
    for (int i = 0; i < events; i++) {
      producer.commit("site-" + i % SITES, seq.incrementAndGet(), System.nanoTime());
    }
    long due = System.nanoTime() + settle.toNanos();
    while (System.nanoTime() < due) {
      LockSupport.parkNanos(10_000_000);
    }
    long start = System.nanoTime();
    consumerOn.run();
    awaitAll(outbox, events);
    return events / ((System.nanoTime() - start) / 1e9);
  }

  private void reset(int expected) {
    allDelivered = new CountDownLatch(expected);
    delivered.set(0);
    distinct.clear();
    lags.clear();
    commits.clear();
  }

  private void awaitAll(String outbox, int total) throws InterruptedException {
    if (!allDelivered.await(300, TimeUnit.SECONDS)) {
      throw new IllegalStateException(
          outbox + ": only " + distinct.size() + " of " + total + " events delivered in 300 s");
    }
  }

  /**
   * Warms the path up with 500 events, then measures {@code producers × eventsPerProducer} events.
   */
  Result run(String outbox, Producer producer, int producers, int eventsPerProducer)
      throws Exception {
    // Warm-up: connections, LISTEN, JIT and pools get going before measuring.
    for (int i = 0; i < WARMUP_EVENTS; i++) {
      producer.commit("site-" + i % SITES, seq.incrementAndGet(), System.nanoTime());
    }
    long warmDeadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (delivered.get() < WARMUP_EVENTS && System.nanoTime() < warmDeadline) {
      LockSupport.parkNanos(1_000_000);
    }
    int total = producers * eventsPerProducer;
    reset(total);
    ExecutorService pool = Executors.newFixedThreadPool(producers);
    CountDownLatch committed = new CountDownLatch(producers);
    long start = System.nanoTime();
    for (int p = 0; p < producers; p++) {
      int offset = p * 7;
      pool.execute(
          () -> {
            try {
              for (int i = 0; i < eventsPerProducer; i++) {
                long t = System.nanoTime();
                producer.commit("site-" + (offset + i) % SITES, seq.incrementAndGet(), t);
                commits.add(System.nanoTime() - t);
              }
            } catch (Exception e) {
              throw new IllegalStateException("producer failed", e);
            } finally {
              committed.countDown();
            }
          });
    }
    committed.await();
    double commitSeconds = (System.nanoTime() - start) / 1e9;
    awaitAll(outbox, total);
    double deliverSeconds = (System.nanoTime() - start) / 1e9;
    pool.shutdown();
    Percentiles lag = new Percentiles(lags.stream().mapToLong(Long::longValue).toArray());
    Percentiles commit = new Percentiles(commits.stream().mapToLong(Long::longValue).toArray());
    return new Result(
        outbox,
        producers,
        total / commitSeconds,
        delivered.get() / deliverSeconds,
        lag.micros(50) / 1000,
        lag.micros(99) / 1000,
        commit.micros(99) / 1000);
  }
}
