package dev.durabledeploy.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.events.EventBus;
import dev.durabledeploy.spi.events.LifecycleEvent;
import dev.durabledeploy.spi.events.OperationEvent;
import dev.durabledeploy.spi.events.SidecarEvent;
import dev.durabledeploy.spi.events.Subscription;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

class RecordingEventBusTest {

  private final RecordingEventBus bus = new RecordingEventBus();
  private final SiteId site = SiteId.of("a");

  @Test
  @DisplayName("delivers matching events in order, records all, and answers the latest per subject")
  void delivers() {
    List<LifecycleEvent> operations = new ArrayList<>();
    Subscription sub = bus.subscribe(EventBus.topic("operation"), operations::add);
    OperationEvent started = new OperationEvent.Started("op-1", "finalize", site, Instant.EPOCH);
    OperationEvent done =
        new OperationEvent.Succeeded("op-1", "finalize", site, Duration.ZERO, "ok", Instant.EPOCH);
    SidecarEvent sidecar = new SidecarEvent.Exited("indexer", 1, Instant.EPOCH);
    bus.publish(started);
    bus.publish(sidecar);
    bus.publish(done);
    assertThat(operations).containsExactly(started, done);
    assertThat(bus.events()).containsExactly(started, sidecar, done);
    assertThat(bus.latest("op-1")).contains(done);
    assertThat(bus.latest("op-1").orElseThrow().isTerminal()).isTrue();
    assertThat(bus.latest("sidecar:indexer")).contains(sidecar);
    sub.close();
    bus.publish(started);
    assertThat(operations).hasSize(2);
  }

  @Test
  @DisplayName("a throwing listener neither breaks the publisher nor other listeners")
  void isolatesFailures() {
    List<LifecycleEvent> seen = new ArrayList<>();
    bus.subscribe(
        e -> true,
        e -> {
          throw new IllegalStateException("listener bug");
        });
    bus.subscribe(e -> true, seen::add);
    bus.publish(new SidecarEvent.Exited("x", 0, Instant.EPOCH));
    assertThat(seen).hasSize(1);
    assertThat(bus.listenerFailures()).hasSize(1);
  }
}
