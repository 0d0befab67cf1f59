package dev.durabledeploy.store.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.events.Subscription;
import dev.durabledeploy.spi.metadata.RowSelection;
import dev.durabledeploy.spi.outbox.AppendClaimer;
import dev.durabledeploy.spi.outbox.NewEvent;
import dev.durabledeploy.spi.outbox.Outbox;
import dev.durabledeploy.spi.outbox.OutboxEvent;
import dev.durabledeploy.testkit.MutableClock;
import dev.durabledeploy.testkit.fixtures.PostgresExtension;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

@DisplayName("PostgreSQL outbox: claiming on append for the local relay")
class PgOutboxClaimOnAppendTest {
  @RegisterExtension static final PostgresExtension PG = new PostgresExtension();

  private static final Duration TTL = Duration.ofSeconds(30);

  private final List<AutoCloseable> closing = new ArrayList<>();

  @AfterEach
  void close() throws Exception {
    Collections.reverse(closing);
    for (AutoCloseable c : closing) {
      c.close();
    }
  }

  private PostgresStore store() {
    PostgresStore store =
        PgStores.fresh(PG, new MutableClock(Instant.parse("2026-01-01T00:00:00Z")));
    closing.add(store);
    return store;
  }

  private static NewEvent event(String site, int seq) {
    return new NewEvent(
        SiteId.of(site), "test.event", Map.of("site", site, "seq", Integer.toString(seq)));
  }

  /** Records what the store hands it; {@code room} says whether it takes more. */
  private static final class Recorder implements AppendClaimer {
    final List<OutboxEvent> handed = new CopyOnWriteArrayList<>();
    final AtomicBoolean room = new AtomicBoolean(true);

    @Override
    public String owner() {
      return "local";
    }

    @Override
    public Duration leaseTtl() {
      return TTL;
    }

    @Override
    public boolean hasRoom() {
      return room.get();
    }

    @Override
    public void claimed(Duration leaseAge, List<OutboxEvent> events) {
      handed.addAll(events);
    }
  }

  @Test
  @DisplayName(
      "an event of a site with nothing undelivered is claimed by its appending transaction and"
          + " handed to the local relay after the commit")
  void claimedAndHanded() {
    PostgresStore store = store();
    Outbox outbox = store.outbox();
    Recorder local = new Recorder();
    outbox.claimOnAppend(local).orElseThrow();

    long id = outbox.append(event("s1", 1));

    assertThat(local.handed).extracting(OutboxEvent::id).containsExactly(id);
    OutboxEvent handed = local.handed.get(0);
    assertThat(handed.deliveryAttempt()).isEqualTo(1);
    assertThat(handed.payload()).containsEntry("seq", "1");
    assertThat(outbox.claim("other", 10, TTL)).isEmpty();
    assertThat(outbox.stats().claimed()).isEqualTo(1);
    assertThat(outbox.ack("local", List.of(id))).isEqualTo(1);
    assertThat(outbox.stats().undelivered()).isZero();
  }

  @Test
  @DisplayName(
      "an event whose site has an undelivered event is not claimed on append: it waits behind"
          + " that event, and this process's relays are woken in-process")
  void behindAnUndeliveredEvent() throws Exception {
    PostgresStore store = store();
    Outbox outbox = store.outbox();
    Recorder local = new Recorder();
    outbox.claimOnAppend(local).orElseThrow();
    local.room.set(false);
    long first = outbox.append(event("s1", 1));
    local.room.set(true);
    java.util.concurrent.CountDownLatch woke = new java.util.concurrent.CountDownLatch(1);
    try (Subscription s = outbox.onAppend(woke::countDown).orElseThrow()) {
      long second = outbox.append(event("s1", 2));

      assertThat(local.handed).isEmpty();
      assertThat(woke.await(5, TimeUnit.SECONDS)).isTrue();
      assertThat(outbox.claim("other", 10, TTL))
          .extracting(OutboxEvent::id)
          .containsExactly(first, second);
    }
  }

  @Test
  @DisplayName("without room the local relay is passed over and the event waits for a claim")
  void noRoom() {
    PostgresStore store = store();
    Outbox outbox = store.outbox();
    Recorder local = new Recorder();
    Subscription registration = outbox.claimOnAppend(local).orElseThrow();
    local.room.set(false);
    long id = outbox.append(event("s1", 1));
    registration.close();
    outbox.append(event("s2", 1));

    assertThat(local.handed).isEmpty();
    assertThat(outbox.claim("other", 10, TTL)).extracting(OutboxEvent::id).contains(id);
  }

  @Test
  @DisplayName(
      "a metadata command's events are claimed together, in id order, and handed after its"
          + " commit")
  void metadataCommand() {
    PostgresStore store = store();
    Outbox outbox = store.outbox();
    Recorder local = new Recorder();
    outbox.claimOnAppend(local).orElseThrow();

    store
        .metadata()
        .inSite(
            "emit two",
            SiteId.of("s1"),
            RowSelection.WHOLE_SITE,
            rows -> {
              rows.emit(event("s1", 1));
              rows.emit(event("s1", 2));
              return null;
            });

    assertThat(local.handed).extracting(e -> e.payload().get("seq")).containsExactly("1", "2");
    assertThat(local.handed.get(0).id()).isLessThan(local.handed.get(1).id());
    assertThat(outbox.claim("other", 10, TTL)).isEmpty();
  }

  @Test
  @DisplayName("an event appended in the host's own transaction is never claimed on append")
  void hostTransaction() {
    PostgresStore store = store();
    Recorder local = new Recorder();
    store.outbox().claimOnAppend(local).orElseThrow();

    long id = store.jdbi().inTransaction(h -> store.appendInTransaction(h, event("s1", 1)));

    assertThat(local.handed).isEmpty();
    assertThat(store.outbox().claim("other", 10, TTL))
        .extracting(OutboxEvent::id)
        .containsExactly(id);
  }
}
