package dev.durabledeploy.testkit.tck;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.events.Subscription;
import dev.durabledeploy.spi.exception.InvalidInputException;
import dev.durabledeploy.spi.outbox.NewEvent;
import dev.durabledeploy.spi.outbox.Outbox;
import dev.durabledeploy.spi.outbox.OutboxDeadLetter;
import dev.durabledeploy.spi.outbox.OutboxEvent;
import dev.durabledeploy.spi.outbox.OutboxStats;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/**
 * The contract of {@link Outbox}: at-least-once delivery in id order per site (E3), claims as
 * leases that expire and are taken over (E4), no event held by two owners at once.
 */
public abstract class OutboxContract extends StoreFixture {

  private static final Duration TTL = Duration.ofSeconds(30);
  protected Outbox outbox;

  @BeforeEach
  void outbox() {
    outbox = store.outbox();
  }

  protected long append(SiteId site, String type) {
    return outbox.append(new NewEvent(site, type, Map.of("n", type)));
  }

  private static List<Long> ids(List<OutboxEvent> events) {
    return events.stream().map(OutboxEvent::id).toList();
  }

  @Nested
  @DisplayName("appending and claiming")
  class Claiming {

    @Test
    @DisplayName("hands out appended events in id order with their payload and attempt 1")
    void claimsInOrder() {
      long a = append(SITE, "a.one");
      long b = append(SITE, "a.two");
      assertThat(b).isGreaterThan(a);
      List<OutboxEvent> claimed = outbox.claim("owner-1", 10, TTL);
      assertThat(ids(claimed)).containsExactly(a, b);
      OutboxEvent first = claimed.get(0);
      assertThat(first.site()).isEqualTo(SITE);
      assertThat(first.type()).isEqualTo("a.one");
      assertThat(first.payload()).isEqualTo(Map.of("n", "a.one"));
      assertThat(first.createdAt()).isEqualTo(clock.instant());
      assertThat(first.deliveryAttempt()).isEqualTo(1);
      assertThat(first.lastError()).isNull();
    }

    @Test
    @DisplayName("respects the batch size and lets a batch hold a run of one site's events")
    void batchSize() {
      for (int i = 0; i < 5; i++) {
        append(SITE, "e.x");
      }
      List<OutboxEvent> first = outbox.claim("owner-1", 3, TTL);
      assertThat(first).hasSize(3);
      outbox.ack("owner-1", ids(first));
      assertThat(outbox.claim("owner-1", 10, TTL)).hasSize(2);
    }

    @Test
    @DisplayName(
        "a site's later events are not handed to another owner while earlier ones are claimed")
    void perSiteExclusive() {
      long a1 = append(SITE, "e.a1");
      long b1 = append(OTHER_SITE, "e.b1");
      long a2 = append(SITE, "e.a2");
      List<OutboxEvent> first = outbox.claim("owner-1", 1, TTL);
      assertThat(ids(first)).containsExactly(a1);
      List<OutboxEvent> second = outbox.claim("owner-2", 10, TTL);
      assertThat(ids(second)).containsExactly(b1);
      outbox.ack("owner-1", List.of(a1));
      assertThat(ids(outbox.claim("owner-2", 10, TTL))).containsExactly(a2);
    }

    @Test
    @DisplayName("an acknowledged event is never handed out again; acking twice is a no-op")
    void ackIsFinal() {
      long a = append(SITE, "e.a");
      outbox.claim("owner-1", 10, TTL);
      assertThat(outbox.ack("owner-1", List.of(a))).isEqualTo(1);
      assertThat(outbox.ack("owner-1", List.of(a))).isZero();
      assertThat(outbox.ack("owner-1", List.of(9_999_999L))).isZero();
      clock.advance(TTL.multipliedBy(10));
      assertThat(outbox.claim("owner-2", 10, TTL)).isEmpty();
    }

    @Test
    @DisplayName("payload values with SQL, Lua and JSON special characters round-trip unchanged")
    void specialCharacters() {
      Map<String, String> payload = new HashMap<>();
      payload.put("sql", "'); DROP TABLE outbox; --");
      payload.put("lua", "]]..redis.call('FLUSHALL')..[[");
      payload.put("json", "{\"a\": [1, \"\\u0000\"]}\\");
      payload.put("unicode", "ü 日本 😀");
      payload.put("empty", "");
      payload.put("newline", "line1\nline2");
      outbox.append(new NewEvent(SITE, "e.special", payload));
      assertThat(outbox.claim("owner-1", 1, TTL).get(0).payload()).isEqualTo(payload);
    }

    @Test
    @DisplayName("invalid owners and batch sizes are refused")
    void validation() {
      assertThatThrownBy(() -> outbox.claim("", 1, TTL)).isInstanceOf(InvalidInputException.class);
      assertThatThrownBy(() -> outbox.claim("o", 0, TTL)).isInstanceOf(InvalidInputException.class);
      assertThatThrownBy(() -> outbox.claim("o", 1, Duration.ZERO))
          .isInstanceOf(InvalidInputException.class);
    }
  }

  @Nested
  @DisplayName("leases, failures and redelivery")
  class Redelivery {

    @Test
    @DisplayName("an expired claim is redelivered to another owner with the attempt counted")
    void expiredClaimRedelivered() {
      long a = append(SITE, "e.a");
      outbox.claim("owner-1", 10, TTL);
      clock.advance(TTL.minusSeconds(1));
      assertThat(outbox.claim("owner-2", 10, TTL)).isEmpty();
      clock.advance(Duration.ofSeconds(1));
      List<OutboxEvent> again = outbox.claim("owner-2", 10, TTL);
      assertThat(ids(again)).containsExactly(a);
      assertThat(again.get(0).deliveryAttempt()).isEqualTo(2);
    }

    @Test
    @DisplayName("a failed event waits until its next attempt, and its site waits with it")
    void failBlocksSite() {
      long a1 = append(SITE, "e.a1");
      long a2 = append(SITE, "e.a2");
      long b1 = append(OTHER_SITE, "e.b1");
      outbox.claim("owner-1", 1, TTL);
      Instant next = clock.instant().plusSeconds(60);
      assertThat(outbox.fail("owner-1", a1, "handler exploded", next)).isTrue();
      assertThat(ids(outbox.claim("owner-2", 10, TTL))).containsExactly(b1);
      outbox.ack("owner-2", List.of(b1));
      clock.advance(Duration.ofSeconds(59));
      assertThat(outbox.claim("owner-2", 10, TTL)).isEmpty();
      clock.advance(Duration.ofSeconds(1));
      List<OutboxEvent> retry = outbox.claim("owner-2", 10, TTL);
      assertThat(ids(retry)).containsExactly(a1, a2);
      assertThat(retry.get(0).lastError()).isEqualTo("handler exploded");
      assertThat(retry.get(0).deliveryAttempt()).isEqualTo(2);
    }

    @Test
    @DisplayName("only the holder can fail an event; errors are truncated to 2,000 characters")
    void failByOwnerOnly() {
      long a = append(SITE, "e.a");
      outbox.claim("owner-1", 10, TTL);
      assertThat(outbox.fail("owner-2", a, "x", clock.instant())).isFalse();
      assertThat(outbox.fail("owner-1", a, "y".repeat(5000), clock.instant())).isTrue();
      assertThat(outbox.claim("owner-2", 1, TTL).get(0).lastError()).hasSize(2000);
    }

    @Test
    @DisplayName("released events are immediately claimable by another owner")
    void release() {
      long a = append(SITE, "e.a");
      outbox.claim("owner-1", 10, TTL);
      assertThat(outbox.release("owner-2", List.of(a))).isZero();
      assertThat(outbox.release("owner-1", List.of(a))).isEqualTo(1);
      assertThat(ids(outbox.claim("owner-2", 10, TTL))).containsExactly(a);
    }

    @Test
    @DisplayName("renewing extends a live claim but never revives an expired one")
    void renew() {
      long a = append(SITE, "e.a");
      outbox.claim("owner-1", 10, TTL);
      clock.advance(TTL.minusSeconds(5));
      assertThat(outbox.renew("owner-1", List.of(a), TTL)).isEqualTo(1);
      clock.advance(Duration.ofSeconds(10));
      assertThat(outbox.claim("owner-2", 10, TTL)).isEmpty();
      assertThat(outbox.renew("owner-2", List.of(a), TTL)).isZero();
      clock.advance(TTL);
      assertThat(outbox.renew("owner-1", List.of(a), TTL)).isZero();
      assertThat(ids(outbox.claim("owner-2", 10, TTL))).containsExactly(a);
    }
  }

  @Nested
  @DisplayName("dead letters")
  class DeadLetters {

    /** Claims the site's head, fails it {@code failures} times, then dead-letters it. */
    private long deadLettered(SiteId site, String type, int failures) {
      long id = append(site, type);
      for (int i = 0; i < failures; i++) {
        assertThat(ids(outbox.claim("owner-1", 1, TTL))).containsExactly(id);
        assertThat(outbox.fail("owner-1", id, "failure " + (i + 1), clock.instant())).isTrue();
      }
      assertThat(ids(outbox.claim("owner-1", 1, TTL))).containsExactly(id);
      assertThat(outbox.deadLetter("owner-1", id, "gave up")).isTrue();
      return id;
    }

    @Test
    @DisplayName("fail counts failures; expired claims and releases do not")
    void failuresCounted() {
      long a = append(SITE, "e.a");
      outbox.claim("owner-1", 10, TTL);
      outbox.fail("owner-1", a, "one", clock.instant());
      outbox.claim("owner-1", 10, TTL);
      outbox.release("owner-1", List.of(a));
      outbox.claim("owner-1", 10, TTL);
      clock.advance(TTL);
      List<OutboxEvent> again = outbox.claim("owner-2", 10, TTL);
      assertThat(again.get(0).failures()).isEqualTo(1);
      assertThat(again.get(0).deliveryAttempt()).isEqualTo(4);
      outbox.fail("owner-2", a, "two", clock.instant());
      assertThat(outbox.claim("owner-2", 10, TTL).get(0).failures()).isEqualTo(2);
    }

    @Test
    @DisplayName(
        "a dead letter keeps its last error, leaves the backlog and no longer holds back its site")
    void deadLetterReleasesSite() {
      long a1 = deadLettered(SITE, "e.a1", 2);
      Instant deadAt = clock.instant();
      long a2 = append(SITE, "e.a2");
      long b1 = append(OTHER_SITE, "e.b1");
      clock.advance(Duration.ofSeconds(5));
      assertThat(ids(outbox.claim("owner-2", 10, TTL))).containsExactly(a2, b1);
      assertThat(outbox.stats())
          .satisfies(
              stats -> {
                assertThat(stats.undelivered()).isEqualTo(2);
                assertThat(stats.deadLettered()).isEqualTo(1);
              });
      assertThat(outbox.deadLetters(10))
          .singleElement()
          .satisfies(
              letter -> {
                assertThat(letter.id()).isEqualTo(a1);
                assertThat(letter.deadLetteredAt()).isEqualTo(deadAt);
                assertThat(letter.event().site()).isEqualTo(SITE);
                assertThat(letter.event().type()).isEqualTo("e.a1");
                assertThat(letter.event().payload()).isEqualTo(Map.of("n", "e.a1"));
                assertThat(letter.event().lastError()).isEqualTo("gave up");
                assertThat(letter.event().failures()).isEqualTo(3);
              });
      assertThat(outbox.ack("owner-2", List.of(a1, a2, b1))).isEqualTo(2);
      assertThat(outbox.deadLetters(10)).extracting(OutboxDeadLetter::id).containsExactly(a1);
      assertThat(outbox.stats().undelivered()).isZero();
    }

    @Test
    @DisplayName("only the claim's holder can dead-letter an event, and only an undelivered one")
    void deadLetterByHolderOnly() {
      long a = append(SITE, "e.a");
      outbox.claim("owner-1", 10, TTL);
      assertThat(outbox.deadLetter("owner-2", a, "x")).isFalse();
      outbox.ack("owner-1", List.of(a));
      assertThat(outbox.deadLetter("owner-1", a, "x")).isFalse();
      assertThat(outbox.deadLetters(10)).isEmpty();
      long b = append(SITE, "e.b");
      outbox.claim("owner-1", 10, TTL);
      assertThat(outbox.deadLetter("owner-1", b, "y".repeat(5000))).isTrue();
      assertThat(outbox.deadLetter("owner-1", b, "again")).isFalse();
      assertThat(outbox.deadLetters(10).get(0).event().lastError()).hasSize(2000);
    }

    @Test
    @DisplayName(
        "a retried dead letter is due at once, before its site's later events, with no failures")
    void retry() {
      long a1 = deadLettered(SITE, "e.a1", 1);
      long a2 = append(SITE, "e.a2");
      outbox.ack("owner-2", ids(outbox.claim("owner-2", 10, TTL)));
      long a3 = append(SITE, "e.a3");
      long a4 = append(SITE, "e.a4");
      assertThat(outbox.retryDeadLetter(a1)).isTrue();
      assertThat(outbox.retryDeadLetter(a1)).isFalse();
      assertThat(outbox.retryDeadLetter(a2)).isFalse();
      assertThat(outbox.deadLetters(10)).isEmpty();
      assertThat(outbox.stats().deadLettered()).isZero();
      List<OutboxEvent> again = outbox.claim("owner-3", 10, TTL);
      assertThat(ids(again)).containsExactly(a1, a3, a4);
      assertThat(again.get(0).failures()).isZero();
      assertThat(again.get(0).lastError()).isEqualTo("gave up");
    }

    @Test
    @DisplayName(
        "a discarded dead letter is gone for good; the purge of delivered events keeps dead letters")
    void discard() {
      long a1 = deadLettered(SITE, "e.a1", 0);
      long a2 = deadLettered(OTHER_SITE, "e.a2", 0);
      Instant cutoff = clock.advance(Duration.ofDays(30));
      assertThat(outbox.purgeDelivered(cutoff, 100)).isZero();
      assertThat(outbox.deadLetters(10)).extracting(OutboxDeadLetter::id).containsExactly(a1, a2);
      assertThat(outbox.deadLetters(1)).extracting(OutboxDeadLetter::id).containsExactly(a1);
      assertThat(outbox.discardDeadLetter(a1)).isTrue();
      assertThat(outbox.discardDeadLetter(a1)).isFalse();
      assertThat(outbox.retryDeadLetter(a1)).isFalse();
      assertThat(outbox.deadLetters(10)).extracting(OutboxDeadLetter::id).containsExactly(a2);
      assertThat(outbox.claim("owner-1", 10, TTL)).isEmpty();
      assertThat(outbox.stats()).isEqualTo(new OutboxStats(0, 0, null, 1));
    }
  }

  @Nested
  @DisplayName("housekeeping")
  class Housekeeping {

    @Test
    @DisplayName("purges only delivered events older than the cutoff, up to the limit")
    void purges() {
      long a = append(SITE, "e.a");
      long b = append(SITE, "e.b");
      long c = append(OTHER_SITE, "e.c");
      outbox.claim("o", 10, TTL);
      outbox.ack("o", List.of(a, b));
      Instant cutoff = clock.advance(Duration.ofDays(8));
      assertThat(outbox.purgeDelivered(cutoff, 1)).isEqualTo(1);
      assertThat(outbox.purgeDelivered(cutoff, 10)).isEqualTo(1);
      assertThat(outbox.purgeDelivered(cutoff, 10)).isZero();
      assertThat(outbox.stats().undelivered()).isEqualTo(1);
      outbox.ack("o", List.of(c));
      assertThat(outbox.purgeDelivered(cutoff, 10)).isZero();
    }

    @Test
    @DisplayName("stats report the backlog, live claims and the oldest waiting event")
    void stats() {
      assertThat(outbox.stats()).isEqualTo(new OutboxStats(0, 0, null));
      Instant first = clock.instant();
      append(SITE, "e.a");
      clock.advance(Duration.ofSeconds(10));
      append(OTHER_SITE, "e.b");
      outbox.claim("o", 1, TTL);
      OutboxStats stats = outbox.stats();
      assertThat(stats.undelivered()).isEqualTo(2);
      assertThat(stats.claimed()).isEqualTo(1);
      assertThat(stats.oldestUndeliveredAt()).isEqualTo(first);
      assertThat(stats.lag(clock.instant())).isEqualTo(Duration.ofSeconds(10));
    }

    @Test
    @DisplayName("a store that offers append notifications calls the listener after an append")
    void notifications() throws Exception {
      CountDownLatch woke = new CountDownLatch(1);
      Optional<Subscription> subscription = outbox.onAppend(woke::countDown);
      try {
        append(SITE, "e.a");
        if (subscription.isPresent()) {
          assertThat(woke.await(10, TimeUnit.SECONDS)).isTrue();
        }
      } finally {
        subscription.ifPresent(Subscription::close);
      }
    }
  }

  @Test
  @DisplayName("16 threads claiming at once: every event delivered exactly once, in order per site")
  void concurrentClaimers() throws Exception {
    int sites = 20;
    int perSite = 50;
    for (int i = 0; i < perSite; i++) {
      for (int s = 0; s < sites; s++) {
        append(SiteId.of("site-" + s), "e.x");
      }
    }
    int total = sites * perSite;
    Map<Long, Integer> deliveries = new ConcurrentHashMap<>();
    Map<SiteId, List<Long>> processedPerSite = new ConcurrentHashMap<>();
    AtomicInteger acked = new AtomicInteger();
    ExecutorService pool = Executors.newFixedThreadPool(16);
    CountDownLatch start = new CountDownLatch(1);
    try {
      List<Future<?>> futures = new ArrayList<>();
      for (int t = 0; t < 16; t++) {
        String owner = "owner-" + t;
        futures.add(
            pool.submit(
                () -> {
                  start.await();
                  long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                  while (acked.get() < total && System.nanoTime() < deadline) {
                    List<OutboxEvent> batch = outbox.claim(owner, 7, Duration.ofMinutes(10));
                    for (OutboxEvent e : batch) {
                      deliveries.merge(e.id(), 1, Integer::sum);
                      processedPerSite
                          .computeIfAbsent(
                              e.site(), s -> Collections.synchronizedList(new ArrayList<>()))
                          .add(e.id());
                    }
                    acked.addAndGet(outbox.ack(owner, ids(batch)));
                  }
                  return null;
                }));
      }
      start.countDown();
      for (Future<?> f : futures) {
        f.get(90, TimeUnit.SECONDS);
      }
    } finally {
      pool.shutdownNow();
    }
    assertThat(acked.get()).isEqualTo(total);
    assertThat(deliveries).hasSize(total);
    assertThat(deliveries.values()).allMatch(n -> n == 1);
    for (List<Long> processed : processedPerSite.values()) {
      assertThat(processed).hasSize(perSite).isSorted();
    }
    assertThat(outbox.stats().undelivered()).isZero();
  }
}
