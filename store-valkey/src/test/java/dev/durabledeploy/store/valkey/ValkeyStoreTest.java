package dev.durabledeploy.store.valkey;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.JobKey;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.events.Subscription;
import dev.durabledeploy.spi.exception.ConfigurationException;
import dev.durabledeploy.spi.exception.SiteBusyException;
import dev.durabledeploy.spi.exception.TransientStoreException;
import dev.durabledeploy.spi.lock.SiteLock;
import dev.durabledeploy.spi.outbox.OutboxEvent;
import dev.durabledeploy.spi.outbox.StandardEvents;
import dev.durabledeploy.testkit.MutableClock;
import dev.durabledeploy.testkit.fixtures.ValkeyExtension;
import dev.durabledeploy.testkit.fixtures.ValkeyServer;
import dev.durabledeploy.testkit.tck.Rows;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

@DisplayName("ValkeyStore: connection, scripts, lock expiry, outage and redaction")
class ValkeyStoreTest {

  @RegisterExtension static final ValkeyExtension VALKEY = new ValkeyExtension();

  private static final SiteId SITE = SiteId.of("site-a");
  private static final JobKey JOB = JobKey.of("clone:web");
  private static final DeployId DEPLOY = DeployId.of("20260115-100000-abc1234");

  private static ValkeyStore store(String namespace) {
    return ValkeyStore.builder()
        .uri(VALKEY.uri().toString())
        .namespace(namespace)
        .lockTtl(Duration.ofSeconds(1))
        .build();
  }

  @Test
  @DisplayName("scripts are re-loaded after SCRIPT FLUSH (NOSCRIPT), transparently")
  void scriptReloadAfterFlush() {
    try (ValkeyStore store = store(ValkeyExtension.newNamespace());
        RedisClient admin = RedisClient.create(VALKEY.uri().toString());
        StatefulRedisConnection<String, String> c = admin.connect()) {
      assertThat(store.jobLeases().tryAcquire(JOB, "a", Duration.ofMinutes(1))).isPresent();
      Rows.pending(store.metadata(), SITE, DEPLOY);
      c.sync().scriptFlush();
      assertThat(store.jobLeases().renew(JOB, "a", Duration.ofMinutes(2))).isPresent();
      assertThat(store.jobLeases().release(JOB, "a")).isTrue();
      Rows.tombstone(store.metadata(), SITE, DEPLOY, Duration.ofDays(1));
      assertThat(store.outbox().claim("relay", 10, Duration.ofMinutes(1)))
          .extracting(OutboxEvent::type)
          .containsExactly(
              StandardEvents.SITE_CHANGED,
              StandardEvents.DEPLOY_DELETED,
              StandardEvents.SITE_CHANGED);
    }
  }

  @Test
  @DisplayName("a live holder keeps its lock past the time to live; a dead one loses it within it")
  void lockExpiresWhenHolderDies() throws Exception {
    String namespace = ValkeyExtension.newNamespace();
    ValkeyStore holder = store(namespace);
    try (ValkeyStore other = store(namespace)) {
      SiteLock lock = holder.siteLocks().acquire(SITE, Duration.ZERO);
      // Three times the 1 s time to live: the watchdog keeps extending it.
      long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
      while (System.nanoTime() < until) {
        assertThatThrownBy(() -> other.siteLocks().acquire(SITE, Duration.ofMillis(200)))
            .isInstanceOf(SiteBusyException.class);
      }
      assertThat(lock.isHeld()).isTrue();
      // The holder dies: no release, no more extensions.
      holder.close();
      long start = System.nanoTime();
      try (SiteLock taken = other.siteLocks().acquire(SITE, Duration.ofSeconds(10))) {
        assertThat(taken.isHeld()).isTrue();
        assertThat(Duration.ofNanos(System.nanoTime() - start))
            .isLessThanOrEqualTo(Duration.ofMillis(1500));
      }
    }
  }

  @Test
  @DisplayName("while the server is down calls fail at once as transient; they recover after")
  void serverRestart() {
    ValkeyServer server = ValkeyExtension.server();
    AtomicInteger wakeUps = new AtomicInteger();
    try (ValkeyStore store = store(ValkeyExtension.newNamespace());
        Subscription woken = store.outbox().onAppend(wakeUps::incrementAndGet).orElseThrow()) {
      assertThat(store.jobLeases().tryAcquire(JOB, "a", Duration.ofMinutes(1))).isPresent();
      server.stop();
      try {
        long start = System.nanoTime();
        assertThatThrownBy(() -> store.jobLeases().find(JOB))
            .isInstanceOf(TransientStoreException.class)
            .hasMessageContaining("check that the server is up")
            .hasMessageNotContaining(server.password());
        assertThatThrownBy(() -> store.siteLocks().acquire(SITE, Duration.ofSeconds(1)))
            .isInstanceOf(TransientStoreException.class)
            .hasMessageNotContaining(server.password());
        assertThatThrownBy(() -> Rows.pending(store.metadata(), SITE, DEPLOY))
            .isInstanceOf(TransientStoreException.class)
            .hasMessageNotContaining(server.password());
        assertThatThrownBy(() -> store.outbox().claim("relay", 10, Duration.ofMinutes(1)))
            .isInstanceOf(TransientStoreException.class)
            .hasMessageNotContaining(server.password());
        assertThat(Duration.ofNanos(System.nanoTime() - start))
            .as("rejected, not queued until the command timeout")
            .isLessThan(Duration.ofSeconds(4));
      } finally {
        server.restart();
      }
      // Lettuce reconnects by itself; the restarted server has no data (no persistence).
      await()
          .atMost(Duration.ofSeconds(30))
          .ignoreException(TransientStoreException.class)
          .until(() -> store.jobLeases().tryAcquire(JOB, "b", Duration.ofMinutes(1)).isPresent());
      try (SiteLock lock = store.siteLocks().acquire(SITE, Duration.ofSeconds(5))) {
        assertThat(lock.isHeld()).isTrue();
      }
      int before = wakeUps.get();
      Rows.pending(store.metadata(), SITE, DEPLOY);
      assertThat(store.outbox().claim("relay", 10, Duration.ofMinutes(1)))
          .extracting(OutboxEvent::type)
          .containsExactly(StandardEvents.SITE_CHANGED);
      // The relay's wake-ups come back by themselves too, once the watcher's own connection has
      // reconnected (Lettuce backs off exponentially during the outage, so allow what the first
      // reconnect above is allowed).
      await().atMost(Duration.ofSeconds(30)).until(() -> wakeUps.get() > before);
    }
  }

  @Test
  @DisplayName("the password never appears: redacted URI, wrong password, bad URI")
  void passwordRedaction() {
    ValkeyServer server = ValkeyExtension.server();
    String password = server.password();
    try (ValkeyStore store = store(ValkeyExtension.newNamespace())) {
      assertThat(store.redactedUri()).contains("***@").doesNotContain(password);
    }
    String wrong = VALKEY.uri().toString().replace(password, "not-the-" + password + "-at-all");
    assertThatThrownBy(() -> ValkeyStore.builder().uri(wrong).build())
        .isInstanceOf(ConfigurationException.class)
        .hasMessageContaining("uri")
        .hasMessageContaining("check the password")
        .hasMessageNotContaining(password)
        .hasNoCause();
    assertThatThrownBy(() -> ValkeyStore.builder().uri("redis://:" + password + "@[::1").build())
        .isInstanceOf(ConfigurationException.class)
        .hasMessageNotContaining(password);
    assertThatThrownBy(() -> ValkeyStore.builder().uri("http://x").build())
        .isInstanceOf(ConfigurationException.class)
        .hasMessageContaining("redis://");
  }

  @Test
  @DisplayName("bad configuration names the property")
  void configuration() {
    assertThatThrownBy(
            () -> ValkeyStore.builder().uri(VALKEY.uri().toString()).namespace("a b").build())
        .isInstanceOf(ConfigurationException.class)
        .hasMessageContaining("namespace");
    assertThatThrownBy(
            () ->
                ValkeyStore.builder()
                    .uri(VALKEY.uri().toString())
                    .lockTtl(Duration.ofMillis(10))
                    .build())
        .isInstanceOf(ConfigurationException.class)
        .hasMessageContaining("lockTtl");
  }

  @Test
  @DisplayName("lease times come from the store's clock")
  void leaseClock() {
    MutableClock clock = new MutableClock();
    try (ValkeyStore store =
        ValkeyStore.builder()
            .uri(VALKEY.uri().toString())
            .namespace(ValkeyExtension.newNamespace())
            .clock(clock)
            .build()) {
      var lease = store.jobLeases().tryAcquire(JOB, "a", Duration.ofSeconds(30)).orElseThrow();
      assertThat(lease.expiresAt()).isEqualTo(clock.instant().plusSeconds(30));
      clock.advance(Duration.ofSeconds(31));
      assertThat(store.jobLeases().listExpired(10)).extracting(l -> l.key()).containsExactly(JOB);
      assertThat(
              CompletableFuture.supplyAsync(
                      () -> store.jobLeases().tryAcquire(JOB, "b", Duration.ofSeconds(30)))
                  .join())
          .hasValueSatisfying(stolen -> assertThat(stolen.attempt()).isEqualTo(2));
    }
  }
}
