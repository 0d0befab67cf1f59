package dev.durabledeploy.core.events;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.events.EventBus;
import dev.durabledeploy.spi.events.LifecycleEvent;
import dev.durabledeploy.spi.events.OperationEvent;
import dev.durabledeploy.spi.events.SidecarEvent;
import dev.durabledeploy.spi.events.Subscription;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

@DisplayName("AsyncEventBus")
class AsyncEventBusTest {

  private final SimpleMeterRegistry meters = new SimpleMeterRegistry();
  private final AsyncEventBus bus = new AsyncEventBus(meters, 8, 100);

  @AfterEach
  void close() {
    bus.close();
  }

  private static OperationEvent progress(String op, int n) {
    return new OperationEvent.Progress(op, "gc", SiteId.of("a"), n, 100, "step", Instant.EPOCH);
  }

  @Test
  @DisplayName("delivers matching events to each subscriber in publish order")
  void ordered() {
    List<LifecycleEvent> seen = Collections.synchronizedList(new ArrayList<>());
    bus.subscribe(EventBus.topic("operation"), seen::add);
    List<LifecycleEvent> published = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      OperationEvent e = progress("op-1", i);
      published.add(e);
      bus.publish(e);
      bus.publish(new SidecarEvent.Exited("s", i, Instant.EPOCH));
      await().atMost(Duration.ofSeconds(10)).until(() -> seen.size() == published.size());
    }
    assertThat(seen).containsExactlyElementsOf(published);
  }

  @Test
  @DisplayName(
      "a blocked subscriber delays neither the publisher nor other subscribers; its overflow is counted")
  void slowSubscriber() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    bus.subscribe(
        e -> true,
        e -> {
          try {
            release.await();
          } catch (InterruptedException interrupted) {
            Thread.currentThread().interrupt();
          }
        });
    List<LifecycleEvent> fast = Collections.synchronizedList(new ArrayList<>());
    bus.subscribe(e -> true, fast::add);
    long start = System.nanoTime();
    for (int i = 0; i < 100; i++) {
      bus.publish(progress("op-2", i));
      if (i % 4 == 3) {
        int expected = i + 1;
        await().atMost(Duration.ofSeconds(10)).until(() -> fast.size() == expected);
      }
    }
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(10));
    assertThat(fast).hasSize(100);
    // The blocked one holds 1 in its listener and 8 queued; the rest was dropped and counted.
    assertThat(bus.droppedCount()).isEqualTo(100 - 1 - 8);
    assertThat(meters.get("durable.events.dropped").counter().count()).isEqualTo(91.0);
    release.countDown();
  }

  @Test
  @DisplayName("a throwing subscriber loses only its own call")
  void throwingSubscriber() {
    List<LifecycleEvent> seen = Collections.synchronizedList(new ArrayList<>());
    bus.subscribe(
        e -> true,
        e -> {
          throw new IllegalStateException("bug");
        });
    bus.subscribe(e -> true, seen::add);
    bus.publish(progress("op-3", 1));
    bus.publish(progress("op-3", 2));
    await().atMost(Duration.ofSeconds(10)).until(() -> seen.size() == 2);
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> meters.get("durable.events.listener.failures").counter().count() == 2.0);
  }

  @Test
  @DisplayName("a late subscriber asks for the latest status; unsubscribing stops delivery")
  void statusAndUnsubscribe() throws Exception {
    bus.publish(progress("op-4", 1));
    OperationEvent done =
        new OperationEvent.Succeeded(
            "op-4", "gc", SiteId.of("a"), Duration.ZERO, "ok", Instant.EPOCH);
    bus.publish(done);
    assertThat(bus.latest("op-4")).contains(done);
    assertThat(bus.latest("nothing")).isEmpty();
    CountDownLatch got = new CountDownLatch(1);
    List<LifecycleEvent> seen = Collections.synchronizedList(new ArrayList<>());
    Subscription sub =
        bus.subscribe(
            e -> true,
            e -> {
              seen.add(e);
              got.countDown();
            });
    bus.publish(progress("op-5", 1));
    assertThat(got.await(10, TimeUnit.SECONDS)).isTrue();
    sub.close();
    bus.publish(progress("op-5", 2));
    CountDownLatch other = new CountDownLatch(1);
    bus.subscribe(e -> true, e -> other.countDown());
    bus.publish(progress("op-5", 3));
    assertThat(other.await(10, TimeUnit.SECONDS)).isTrue();
    assertThat(seen).hasSize(1);
  }

  @Test
  @DisplayName("the status map keeps only the most recently updated subjects")
  void boundedStatus() {
    for (int i = 0; i < 150; i++) {
      bus.publish(progress("op-" + i, 1));
    }
    assertThat(bus.latest("op-0")).isEmpty();
    assertThat(bus.latest("op-149")).isPresent();
  }
}
