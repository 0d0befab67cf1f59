package dev.durabledeploy.core.outbox;

import static org.assertj.core.api.Assertions.assertThat;

import dev.durabledeploy.core.CoreFixture;
import dev.durabledeploy.spi.outbox.OutboxEvent;
import dev.durabledeploy.spi.outbox.StandardEvents;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

@DisplayName("OutboxPurge")
class OutboxPurgeTest extends CoreFixture {

  @Test
  @DisplayName("deletes delivered events older than the retention and keeps the rest")
  void purges() {
    for (int i = 0; i < 5; i++) {
      store.outbox().append(StandardEvents.siteChanged(SITE, "test"));
    }
    List<OutboxEvent> claimed = store.outbox().claim("o", 3, Duration.ofMinutes(1));
    store.outbox().ack("o", claimed.stream().map(OutboxEvent::id).toList());
    assertThat(plane.outboxPurge().run()).isZero();
    clock.advance(Duration.ofDays(8));
    assertThat(plane.outboxPurge().run()).isEqualTo(3);
    assertThat(store.outbox().stats().undelivered()).isEqualTo(2);
  }
}
