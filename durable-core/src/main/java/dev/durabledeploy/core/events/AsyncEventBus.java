package dev.durabledeploy.core.events;

import dev.durabledeploy.spi.events.EventBus;
import dev.durabledeploy.spi.events.EventListener;
import dev.durabledeploy.spi.events.LifecycleEvent;
import dev.durabledeploy.spi.events.Subscription;
import dev.durabledeploy.spi.support.Threads;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The lifecycle bus: {@link #publish} never blocks and never fails. Each subscriber has its own
 * bounded queue drained on a shared pool, so a slow subscriber only delays itself and a throwing
 * one only loses its own call. When a subscriber's queue is full its events are dropped and counted
 * ({@code durable.events.dropped}), never silently: the first drop per subscription is logged.
 */
public final class AsyncEventBus implements EventBus, AutoCloseable {

  /** Events a subscriber may lag behind before its events are dropped. */
  public static final int DEFAULT_QUEUE_CAPACITY = 10_000;

  /** Subjects whose latest event is kept for status queries (least recently updated go first). */
  public static final int DEFAULT_STATUS_CAPACITY = 10_000;

  private static final Logger LOG = LoggerFactory.getLogger(AsyncEventBus.class);

  private final int queueCapacity;
  private final ExecutorService pool;
  private final List<Sub> subscribers = new CopyOnWriteArrayList<>();
  private final Map<String, LifecycleEvent> latest;
  private final Counter dropped;
  private final Counter listenerFailures;

  public AsyncEventBus(MeterRegistry meters) {
    this(meters, DEFAULT_QUEUE_CAPACITY, DEFAULT_STATUS_CAPACITY);
  }

  public AsyncEventBus(MeterRegistry meters, int queueCapacity, int statusCapacity) {
    this.queueCapacity = queueCapacity;
    this.pool = Executors.newCachedThreadPool(Threads.daemon("durable-event-bus"));
    this.latest =
        new LinkedHashMap<>(16, 0.75f, false) {
          @Override
          protected boolean removeEldestEntry(Map.Entry<String, LifecycleEvent> eldest) {
            return size() > statusCapacity;
          }
        };
    this.dropped =
        Counter.builder("durable.events.dropped")
            .description("lifecycle events dropped because a subscriber fell too far behind")
            .register(meters);
    this.listenerFailures =
        Counter.builder("durable.events.listener.failures")
            .description("exceptions thrown by lifecycle event subscribers")
            .register(meters);
  }

  @Override
  public void publish(LifecycleEvent event) {
    synchronized (latest) {
      latest.remove(event.subject());
      latest.put(event.subject(), event);
    }
    for (Sub sub : subscribers) {
      sub.offer(event);
    }
  }

  @Override
  public Subscription subscribe(Predicate<? super LifecycleEvent> filter, EventListener listener) {
    Sub sub = new Sub(filter, listener);
    subscribers.add(sub);
    return sub;
  }

  @Override
  public Optional<LifecycleEvent> latest(String subject) {
    synchronized (latest) {
      return Optional.ofNullable(latest.get(subject));
    }
  }

  /** Events dropped so far across all subscribers. */
  public long droppedCount() {
    return (long) dropped.count();
  }

  /** Stops delivering; queued events are abandoned. */
  @Override
  public void close() {
    subscribers.clear();
    pool.shutdownNow();
    try {
      pool.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private final class Sub implements Subscription {
    private final Predicate<? super LifecycleEvent> filter;
    private final EventListener listener;
    private final ArrayBlockingQueue<LifecycleEvent> queue =
        new ArrayBlockingQueue<>(queueCapacity);
    private final AtomicBoolean draining = new AtomicBoolean();
    private final AtomicLong drops = new AtomicLong();
    private volatile boolean open = true;

    Sub(Predicate<? super LifecycleEvent> filter, EventListener listener) {
      this.filter = filter;
      this.listener = listener;
    }

    void offer(LifecycleEvent event) {
      boolean wanted;
      try {
        wanted = open && filter.test(event);
      } catch (RuntimeException e) {
        listenerFailures.increment();
        wanted = false;
      }
      if (!wanted) {
        return;
      }
      if (!queue.offer(event)) {
        dropped.increment();
        if (drops.getAndIncrement() == 0) {
          LOG.warn(
              "a lifecycle event subscriber is more than {} events behind; dropping its events"
                  + " (counted in durable.events.dropped)",
              queueCapacity);
        }
        return;
      }
      scheduleDrain();
    }

    private void scheduleDrain() {
      if (draining.compareAndSet(false, true)) {
        try {
          pool.execute(this::drain);
        } catch (java.util.concurrent.RejectedExecutionException closed) {
          draining.set(false);
        }
      }
    }

    private void drain() {
      try {
        LifecycleEvent event;
        while (open && (event = queue.poll()) != null) {
          try {
            listener.onEvent(event);
          } catch (RuntimeException | Error e) {
            listenerFailures.increment();
            LOG.warn(
                "a lifecycle event subscriber threw on {}: {}",
                event.getClass().getSimpleName(),
                Operations.describe(e));
          }
        }
      } finally {
        draining.set(false);
      }
      // An event offered between the last poll and the reset above must not wait for the next one.
      if (open && !queue.isEmpty()) {
        scheduleDrain();
      }
    }

    @Override
    public void close() {
      open = false;
      subscribers.remove(this);
      queue.clear();
    }
  }
}
