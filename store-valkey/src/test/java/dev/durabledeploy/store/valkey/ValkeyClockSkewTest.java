package dev.durabledeploy.store.valkey;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.durabledeploy.spi.JobKey;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.exception.SiteBusyException;
import dev.durabledeploy.spi.lease.Lease;
import dev.durabledeploy.spi.lock.SiteLock;
import dev.durabledeploy.testkit.fixtures.ValkeyExtension;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Item 8 of issue 21 on Valkey: expiry between hosts is decided on the server's clock, so a host
 * whose clock runs ahead by more than a lease's TTL can neither take a live lease or lock of
 * another host, nor keep its own past their real expiry.
 */
@DisplayName("Valkey leases and locks between hosts whose clocks disagree")
class ValkeyClockSkewTest {

  @RegisterExtension static final ValkeyExtension VALKEY = new ValkeyExtension();
  private static final JobKey JOB = JobKey.of("index:site-a");
  private static final SiteId SITE = SiteId.of("site-a");
  private static final Duration TTL = Duration.ofSeconds(30);
  private static final Duration AHEAD = TTL.multipliedBy(2).plusMinutes(1);

  private final List<ValkeyStore> opened = new ArrayList<>();

  @AfterEach
  void close() {
    opened.forEach(ValkeyStore::close);
  }

  private ValkeyStore host(String namespace, Clock clock) {
    ValkeyStore store =
        ValkeyStore.builder()
            .uri(VALKEY.uri().toString())
            .namespace(namespace)
            .clock(clock)
            .build();
    opened.add(store);
    return store;
  }

  @Test
  @DisplayName("a host whose clock is ahead by more than the TTL cannot take a live lease")
  void aheadCannotSteal() {
    String namespace = ValkeyExtension.newNamespace();
    ValkeyStore onTime = host(namespace, Clock.systemUTC());
    ValkeyStore ahead = host(namespace, Clock.offset(Clock.systemUTC(), AHEAD));
    Lease live = onTime.jobLeases().tryAcquire(JOB, "on-time#1", TTL).orElseThrow();

    assertThat(ahead.jobLeases().tryAcquire(JOB, "ahead#1", TTL)).isEmpty();
    assertThat(ahead.jobLeases().listExpired(10)).isEmpty();
    assertThat(ahead.jobLeases().find(JOB)).contains(live);
    assertThat(onTime.jobLeases().renew(JOB, "on-time#1", TTL)).isPresent();
  }

  @Test
  @DisplayName("a host whose clock is ahead cannot take a held site lock")
  void aheadCannotTakeALock() {
    String namespace = ValkeyExtension.newNamespace();
    ValkeyStore onTime = host(namespace, Clock.systemUTC());
    ValkeyStore ahead = host(namespace, Clock.offset(Clock.systemUTC(), AHEAD));
    try (SiteLock held = onTime.siteLocks().acquire(SITE, Duration.ofSeconds(5))) {
      assertThatThrownBy(() -> ahead.siteLocks().acquire(SITE, Duration.ofMillis(500)))
          .isInstanceOf(SiteBusyException.class);
      assertThat(held.isHeld()).isTrue();
    }
  }

  @Test
  @DisplayName("the lease of a dead host whose clock ran ahead is free once its TTL really passed")
  void aheadHolderExpiresOnTime() {
    String namespace = ValkeyExtension.newNamespace();
    ValkeyStore onTime = host(namespace, Clock.systemUTC());
    ValkeyStore ahead = host(namespace, Clock.offset(Clock.systemUTC(), AHEAD));
    ahead.jobLeases().tryAcquire(JOB, "ahead#1", Duration.ofSeconds(1)).orElseThrow();
    Lease taken =
        await("the lease is free after about its TTL, not after the writer's clock error")
            .atMost(Duration.ofSeconds(15))
            .until(() -> onTime.jobLeases().tryAcquire(JOB, "on-time#1", TTL), l -> l.isPresent())
            .orElseThrow();
    assertThat(taken.owner()).isEqualTo("on-time#1");
    assertThat(taken.attempt()).isEqualTo(2);
  }
}
