package dev.durabledeploy.store.valkey;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.events.Subscription;
import dev.durabledeploy.spi.metadata.MetadataStore;
import dev.durabledeploy.spi.outbox.NewEvent;
import dev.durabledeploy.spi.outbox.OutboxEvent;
import dev.durabledeploy.testkit.fixtures.ValkeyExtension;
import dev.durabledeploy.testkit.tck.Rows;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Two hosts (two stores, one namespace) on one server, on the real clock. */
@DisplayName("ValkeyStore: two hosts sharing one server")
class ValkeyTwoHostsTest {

  @RegisterExtension static final ValkeyExtension VALKEY = new ValkeyExtension();

  private static final SiteId SITE = SiteId.of("site-a");

  private static ValkeyStore host(String namespace) {
    return ValkeyStore.builder().uri(VALKEY.uri().toString()).namespace(namespace).build();
  }

  @Test
  @DisplayName("a consumer that stops acking: its events go to another host after the lease")
  void deadConsumerRedelivered() {
    String namespace = ValkeyExtension.newNamespace();
    try (ValkeyStore a = host(namespace);
        ValkeyStore b = host(namespace)) {
      long first = a.outbox().append(new NewEvent(SITE, "e.one", Map.of()));
      long second = a.outbox().append(new NewEvent(SITE, "e.two", Map.of()));
      Duration lease = Duration.ofMillis(500);
      assertThat(a.outbox().claim("host-a", 10, lease))
          .extracting(OutboxEvent::id)
          .containsExactly(first, second);
      // host-a dies holding both: b sees nothing until the lease ends, then both, in order.
      assertThat(b.outbox().claim("host-b", 10, lease)).isEmpty();
      Instant start = Instant.now();
      List<OutboxEvent> redelivered = new ArrayList<>();
      await()
          .atMost(Duration.ofSeconds(10))
          .pollInterval(Duration.ofMillis(20))
          .until(() -> redelivered.addAll(b.outbox().claim("host-b", 10, lease)));
      assertThat(Duration.between(start, Instant.now())).isLessThan(Duration.ofSeconds(5));
      assertThat(redelivered).extracting(OutboxEvent::id).containsExactly(first, second);
      assertThat(redelivered).allMatch(e -> e.deliveryAttempt() == 2);
      assertThat(b.outbox().ack("host-b", List.of(first, second))).isEqualTo(2);
      // A late ack from the dead host changes nothing; nothing is left to deliver.
      assertThat(a.outbox().ack("host-a", List.of(first, second))).isZero();
      assertThat(b.outbox().stats().undelivered()).isZero();
    }
  }

  @Test
  @DisplayName("an append on one host wakes the relay of the other (XREAD BLOCK)")
  void crossHostWakeUp() throws Exception {
    String namespace = ValkeyExtension.newNamespace();
    try (ValkeyStore a = host(namespace);
        ValkeyStore b = host(namespace)) {
      CountDownLatch woke = new CountDownLatch(3);
      try (Subscription subscription = b.outbox().onAppend(woke::countDown).orElseThrow()) {
        for (int i = 0; i < 3; i++) {
          Rows.pending(a.metadata(), SITE, DeployId.of("20260115-10000" + i + "-abc1234"));
          // One wake-up per append: wait for each so they are not merged into one read.
          long expected = 2 - i;
          await().atMost(Duration.ofSeconds(10)).until(() -> woke.getCount() == expected);
        }
        assertThat(woke.await(0, TimeUnit.SECONDS)).isTrue();
      }
    }
  }

  @Test
  @DisplayName("16 threads on two hosts writing one site: no command lost, one event each")
  void concurrentCommandsOnOneSite() throws Exception {
    String namespace = ValkeyExtension.newNamespace();
    int threads = 16;
    int perThread = 15;
    try (ValkeyStore a = host(namespace);
        ValkeyStore b = host(namespace)) {
      ExecutorService pool = Executors.newFixedThreadPool(threads);
      CountDownLatch start = new CountDownLatch(1);
      AtomicInteger created = new AtomicInteger();
      try {
        List<Future<?>> futures = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
          MetadataStore metadata = (t % 2 == 0 ? a : b).metadata();
          int thread = t;
          futures.add(
              pool.submit(
                  () -> {
                    start.await();
                    for (int i = 0; i < perThread; i++) {
                      DeployId id =
                          DeployId.of(String.format("20260115-%02d%04d-abc1234", thread, i));
                      Rows.pending(metadata, SITE, id);
                      created.incrementAndGet();
                    }
                    return null;
                  }));
        }
        start.countDown();
        for (Future<?> f : futures) {
          f.get(60, TimeUnit.SECONDS);
        }
      } finally {
        pool.shutdownNow();
      }
      int total = threads * perThread;
      assertThat(created.get()).isEqualTo(total);
      assertThat(a.metadata().listDeploys(SITE)).hasSize(total);
      assertThat(b.metadata().auditLog(SITE, 1_000)).hasSize(total);
      Map<Long, Integer> events = new ConcurrentHashMap<>();
      List<OutboxEvent> batch;
      while (!(batch = a.outbox().claim("relay", 100, Duration.ofMinutes(1))).isEmpty()) {
        batch.forEach(e -> events.merge(e.id(), 1, Integer::sum));
        a.outbox().ack("relay", batch.stream().map(OutboxEvent::id).toList());
      }
      assertThat(events).hasSize(total);
      assertThat(events.values()).allMatch(n -> n == 1);
    }
  }
}
