package dev.durabledeploy.core.outbox;

import static org.assertj.core.api.Assertions.assertThat;

import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.outbox.NewEvent;
import dev.durabledeploy.spi.outbox.OutboxEvent;
import dev.durabledeploy.store.memory.InMemoryStore;
import dev.durabledeploy.testkit.MutableClock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Collectors;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

@DisplayName("claim renewal: which chains a short renewal stops")
class ClaimRenewalTest {

  private static final Duration TTL = Duration.ofSeconds(30);
  private static final String OWNER = "relay-a";

  private final MutableClock clock = new MutableClock(Instant.parse("2026-01-01T00:00:00Z"));
  private final InMemoryStore store = new InMemoryStore(clock);

  private List<OutboxEvent> claimSite(String site, int events) {
    for (int i = 1; i <= events; i++) {
      store.outbox().append(new NewEvent(SiteId.of(site), "e", Map.of("seq", "" + i)));
    }
    return store.outbox().claim(OWNER, 100, TTL).stream()
        .filter(e -> e.site().value().equals(site))
        .toList();
  }

  @Test
  @DisplayName(
      "a chain whose first event was acknowledged keeps its site when another chain's claim was"
          + " lost: the acknowledged event is not counted as a claim it lost")
  void acknowledgedEventIsNotALostClaim() {
    List<OutboxEvent> mine = claimSite("kept", 3);
    List<OutboxEvent> theirs = claimSite("lost", 1);
    assertThat(mine).hasSize(3);
    assertThat(theirs).hasSize(1);
    SiteChain kept = new SiteChain(mine, clock.instant(), TTL, Duration.ofSeconds(5));
    SiteChain lost = new SiteChain(theirs, clock.instant(), TTL, Duration.ofSeconds(5));
    Set<SiteChain> dispatching = ConcurrentHashMap.newKeySet();
    dispatching.add(kept);
    dispatching.add(lost);
    Set<Long> outstanding = ConcurrentHashMap.newKeySet();
    outstanding.addAll(
        java.util.stream.Stream.concat(mine.stream(), theirs.stream())
            .map(OutboxEvent::id)
            .collect(Collectors.toSet()));

    // The first event of "kept" is delivered and acknowledged, as the relay's ack batcher does
    // (out of outstanding, still in the chain's held set).
    assertThat(store.outbox().ack(OWNER, List.of(mine.get(0).id()))).isEqualTo(1);
    outstanding.remove(mine.get(0).id());
    // The claim of "lost" is gone: another relay settled its event.
    assertThat(store.outbox().ack(OWNER, List.of(theirs.get(0).id()))).isEqualTo(1);

    new ClaimRenewal(store.outbox(), OWNER, TTL, clock, dispatching, outstanding).renew();

    assertThat(kept.notHeld(clock.instant())).isNull();
    assertThat(lost.notHeld(clock.instant())).contains("a renewal extended 0 of its 1 events");
  }
}
