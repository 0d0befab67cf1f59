package dev.durabledeploy.examples.hostile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.durabledeploy.core.DurableDeploy;
import dev.durabledeploy.engine.executor.ExecutorEngine;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.Store;
import dev.durabledeploy.spi.engine.WorkflowDefinition;
import dev.durabledeploy.spi.events.Subscription;
import dev.durabledeploy.spi.outbox.AppendClaimer;
import dev.durabledeploy.spi.outbox.NewEvent;
import dev.durabledeploy.spi.outbox.Outbox;
import dev.durabledeploy.spi.outbox.OutboxEvent;
import dev.durabledeploy.store.postgres.PostgresStore;
import dev.durabledeploy.testkit.ForwardingOutbox;
import dev.durabledeploy.testkit.fixtures.PostgresExtension;
import dev.durabledeploy.testkit.fixtures.TcpProxy;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Replicas that the host names alike. {@code DurableDeploy.Builder.instanceId} is "for people
 * reading them"; a host that sets it to its service or host name (host networking) gives every
 * replica the same id. The relay's claim owner is {@code "relay:" + incarnation} (unique per
 * process start), so a relay that lost its claim on a site still stops when the relay that took it
 * over carries the same instanceId.
 */
@DisplayName("hostile: two replicas with the same instanceId and the relay's lost claim")
class HostileRelayIdentityTest {

  @RegisterExtension static final PostgresExtension PG = new PostgresExtension();
  private static final SiteId SITE = SiteId.of("relayed");
  private static final String TYPE = "hostile.tick";
  private static final String WORKFLOW = "hostile-record";

  @TempDir Path dir;

  /** A host's decorator of the outbox (for metrics, say): counts renewals that completed. */
  static final class CountingOutbox extends ForwardingOutbox {
    final AtomicInteger renewals = new AtomicInteger();

    CountingOutbox(Outbox d) {
      super(d);
    }

    /** No claims on append: they would take the store's lease, not the shortened one below. */
    @Override
    public Optional<Subscription> claimOnAppend(AppendClaimer claimer) {
      return Optional.empty();
    }

    @Override
    public List<OutboxEvent> claim(String owner, int maxEvents, Duration leaseTtl) {
      return delegate().claim(owner, maxEvents, shorter(leaseTtl));
    }

    /**
     * Replica one's claims last 12 s in the database instead of the relay's 30 s, so the partition
     * below outlasts them sooner. The relay renews every 10 s, inside that; should a renewal come
     * late, replica one loses its claim early, which is what the test is about anyway.
     */
    private static Duration shorter(Duration leaseTtl) {
      Duration cap = Duration.ofSeconds(12);
      return leaseTtl.compareTo(cap) > 0 ? cap : leaseTtl;
    }

    @Override
    public int renew(String owner, Collection<Long> ids, Duration leaseTtl) {
      int n = delegate().renew(owner, ids, shorter(leaseTtl));
      renewals.incrementAndGet();
      return n;
    }
  }

  private static PostgresStore store(String url, String schema) {
    return PostgresStore.builder()
        .jdbcUrl(url)
        .username(PG.username())
        .password(PG.password())
        .schema(schema)
        .connectionTimeout(Duration.ofSeconds(1))
        .migrateOnStart(true)
        .build();
  }

  /** What one replica's workflow saw: "replica:seq", and a gate on its first event. */
  record Recorder(String replica, List<String> log, CountDownLatch entered, CountDownLatch gate) {
    ExecutorEngine engine() {
      ExecutorEngine engine = ExecutorEngine.builder().build();
      engine.register(
          WorkflowDefinition.named(WORKFLOW)
              .handler(
                  ctx -> {
                    String seq = ctx.input().get("seq");
                    log.add(replica + ":" + seq);
                    if (seq.equals("1")) {
                      entered.countDown();
                      if (!gate.await(5, TimeUnit.MINUTES)) {
                        throw new IllegalStateException("gate never opened");
                      }
                    }
                  }));
      return engine;
    }
  }

  @Test
  @DisplayName(
      "same instanceId: the relay that lost the site's claim dispatches nothing more of it")
  void sameInstanceId() throws Exception {
    assertLostClaimStops("api", "api");
  }

  @Test
  @DisplayName("distinct instanceIds (control): the relay that lost the site's claim stops")
  void distinctInstanceIds() throws Exception {
    assertLostClaimStops("api-1", "api-2");
  }

  private void assertLostClaimStops(String id1, String id2) throws Exception {
    String schema = HostileSupport.newSchema("relayid");
    URI server = URI.create(PG.jdbcUrl().substring("jdbc:".length()));
    List<String> log = Collections.synchronizedList(new ArrayList<>());
    Recorder r1 = new Recorder("one", log, new CountDownLatch(1), new CountDownLatch(1));
    Recorder r2 = new Recorder("two", log, new CountDownLatch(1), new CountDownLatch(1));
    SimpleMeterRegistry meters1 = new SimpleMeterRegistry();
    try (TcpProxy proxy = TcpProxy.to(server);
        PostgresStore store1 = store(proxy.jdbcUrl(PG.jdbcUrl()), schema);
        PostgresStore store2 = store(PG.jdbcUrl(), schema)) {
      CountingOutbox outbox1 = new CountingOutbox(store1.outbox());
      Store host1 = Store.of(store1.metadata(), outbox1, store1.siteLocks(), store1.jobLeases());
      try (DurableDeploy one =
              DurableDeploy.builder()
                  .store(host1)
                  .blobRoot(dir.resolve("b1"))
                  .engine(r1.engine())
                  .instanceId(id1)
                  .meterRegistry(meters1)
                  .route(TYPE, WORKFLOW)
                  .build();
          DurableDeploy two =
              DurableDeploy.builder()
                  .store(store2)
                  .blobRoot(dir.resolve("b2"))
                  .engine(r2.engine())
                  .instanceId(id2)
                  .route(TYPE, WORKFLOW)
                  .build()) {
        // Appended before replica one starts, so its first claim takes the site's three events.
        for (int seq = 1; seq <= 3; seq++) {
          store2.outbox().append(new NewEvent(SITE, TYPE, Map.of("seq", Integer.toString(seq))));
        }
        one.start();
        assertThat(r1.entered().await(60, TimeUnit.SECONDS))
            .as("replica one runs event 1")
            .isTrue();

        // Replica one is cut off until its claim ran out and replica two took the site over.
        proxy.cut();
        two.start();
        assertThat(r2.entered().await(120, TimeUnit.SECONDS))
            .as("replica two takes the site over once one's claim expired")
            .isTrue();
        proxy.restore();
        int before = outbox1.renewals.get();
        await("replica one's relay renews again after the partition")
            .atMost(Duration.ofSeconds(60))
            .until(() -> outbox1.renewals.get() > before + 1);

        // Replica one's event 1 finishes; replica two still works on the site.
        System.out.println(
            "HostileRelayIdentityTest: releasing one's gate; log so far "
                + log
                + " renewals "
                + outbox1.renewals.get());
        r1.gate().countDown();
        await("replica one either stops the site's chain or dispatches its next event")
            .atMost(Duration.ofSeconds(30))
            .until(
                () ->
                    log.contains("one:2")
                        || meters1.find("durable.outbox.relay.claims.lost").counters().stream()
                                .mapToDouble(c -> c.count())
                                .sum()
                            > 0);
        r2.gate().countDown();
        await("every event delivered")
            .atMost(Duration.ofSeconds(60))
            .until(() -> store2.outbox().stats().undelivered() == 0);
        System.out.println("HostileRelayIdentityTest(" + id1 + ", " + id2 + "): " + log);
        assertThat(log.stream().filter(e -> e.startsWith("one:")).toList())
            .as(
                "what replica one dispatched of the site, after replica two took it over at event 1")
            .containsExactly("one:1");
      }
    }
  }
}
