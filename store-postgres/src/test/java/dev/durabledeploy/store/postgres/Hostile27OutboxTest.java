package dev.durabledeploy.store.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.metadata.RowSelection;
import dev.durabledeploy.spi.outbox.Outbox;
import dev.durabledeploy.spi.outbox.OutboxEvent;
import dev.durabledeploy.testkit.fixtures.TcpProxy;
import java.net.URI;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * Hostile host against issue 27's outbox changes: claims serialised by an advisory lock, and events
 * claimed by their appending transaction for a relay of the appending process.
 */
@DisplayName("hostile (issue 27): the outbox's claim lock and claim on append")
class Hostile27OutboxTest extends HostileOutboxFixture {

  /** Holds the schema's claim lock in an open transaction, as a claimer whose host froze. */
  private Connection stalledClaimer(String schema) throws Exception {
    Connection c = raw();
    c.setAutoCommit(false);
    try (Statement s = c.createStatement()) {
      s.execute("SELECT pg_advisory_xact_lock(" + PgOutbox.claimLockKey(schema) + ")");
    }
    return c;
  }

  @Test
  @DisplayName(
      "a claimer stalled inside its claim transaction does not stop another host from claiming"
          + " an event that is free (before: FOR UPDATE SKIP LOCKED never waited)")
  void stalledClaimerBlocksEveryHost() throws Exception {
    String schema = PgStores.newSchema();
    PostgresStore hostB = store(schema, 4);
    long id = hostB.outbox().append(event("s1", 1));
    Connection stalled = stalledClaimer(schema);
    try {
      // The first claims find the lock busy and come back empty at once; a relay claims again on
      // its next poll, and past PgOutbox.CLAIM_LOCK_WAIT of a lock busy on every try it claims
      // without it.
      java.util.concurrent.atomic.AtomicReference<List<OutboxEvent>> got =
          new java.util.concurrent.atomic.AtomicReference<>(List.of());
      org.awaitility.Awaitility.await()
          .atMost(Duration.ofSeconds(10))
          .pollInterval(Duration.ofMillis(50))
          .until(
              () -> {
                long call = System.nanoTime();
                got.set(hostB.outbox().claim("host-b", 10, TTL));
                assertThat(Duration.ofNanos(System.nanoTime() - call))
                    .as("one claim while another host's claim is stalled")
                    .isLessThan(Duration.ofSeconds(5));
                return !got.get().isEmpty();
              });
      assertThat(got.get())
          .as("host B's claims, for 10 s after the first, while another host's claim is stalled")
          .extracting(OutboxEvent::id)
          .containsExactly(id);
    } finally {
      stalled.rollback();
    }
  }

  @Test
  @DisplayName(
      "a host whose pool has one connection still runs its metadata commands while its relay's"
          + " claim meets a stalled claimer's lock")
  void tinyPoolStarvesBehindStalledClaim() throws Exception {
    String schema = PgStores.newSchema();
    PostgresStore host = store(schema, 1);
    host.outbox().append(event("s1", 1));
    Connection stalled = stalledClaimer(schema);
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try {
      Future<List<OutboxEvent>> claim = pool.submit(() -> host.outbox().claim("host", 10, TTL));
      // The claim finds the lock busy and gives the pool's only connection back at once: no
      // backend waits on the lock.
      assertThat(claim.get(10, TimeUnit.SECONDS)).isEmpty();
      assertThat(waitingOnAdvisoryLock(stalled)).isZero();
      Future<Object> command =
          pool.submit(
              () ->
                  host.metadata()
                      .inSite(
                          "hostile command",
                          SiteId.of("s2"),
                          RowSelection.WHOLE_SITE,
                          rows -> {
                            rows.emit(event("s2", 1));
                            return "done";
                          }));
      Object result;
      try {
        result = command.get(10, TimeUnit.SECONDS);
      } catch (java.util.concurrent.ExecutionException e) {
        result = e.getCause();
      }
      assertThat(result)
          .as("a metadata command of the host while its relay's claim waits on the claim lock")
          .isEqualTo("done");
      claim.cancel(true);
    } finally {
      stalled.rollback();
      pool.shutdown();
      assertThat(pool.awaitTermination(30, TimeUnit.SECONDS)).isTrue();
    }
  }

  private static int waitingOnAdvisoryLock(Connection c) throws Exception {
    try (Connection probe =
            DriverManager.getConnection(PG.jdbcUrl(), PG.username(), PG.password());
        Statement s = probe.createStatement();
        var rs =
            s.executeQuery(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")) {
      rs.next();
      return rs.getInt(1);
    }
  }

  @Test
  @DisplayName(
      "a claimer whose connection is cut while it holds the claim lock frees it: the next claim"
          + " proceeds")
  void claimerCutHoldingTheLock() throws Exception {
    String schema = PgStores.newSchema();
    PostgresStore host = store(schema, 4);
    long id = host.outbox().append(event("s1", 1));
    try (TcpProxy proxy = TcpProxy.to(URI.create(PG.jdbcUrl().substring("jdbc:".length())))) {
      Connection doomed =
          DriverManager.getConnection(proxy.jdbcUrl(PG.jdbcUrl()), PG.username(), PG.password());
      doomed.setAutoCommit(false);
      try (Statement s = doomed.createStatement()) {
        s.execute("SELECT pg_advisory_xact_lock(" + PgOutbox.claimLockKey(schema) + ")");
      }
      proxy.cut();
      ExecutorService pool = Executors.newSingleThreadExecutor();
      try {
        Future<List<OutboxEvent>> claim = pool.submit(() -> host.outbox().claim("h", 10, TTL));
        assertThat(claim.get(20, TimeUnit.SECONDS)).extracting(OutboxEvent::id).containsExactly(id);
      } finally {
        pool.shutdownNow();
        try {
          doomed.close();
        } catch (Exception ignored) {
          // cut
        }
      }
    }
  }

  @Test
  @DisplayName(
      "two hosts appending to one site at the same moment never both hold a live claim on it (a"
          + " claim hands out a site to one owner at a time)")
  void twoHostsClaimOneSiteOnAppend() throws Exception {
    String schema = PgStores.newSchema();
    PostgresStore hostA = store(schema, 4);
    PostgresStore hostB = store(schema, 4);
    Recorder a = new Recorder("host-a");
    Recorder b = new Recorder("host-b");
    hostA.outbox().claimOnAppend(a).orElseThrow();
    hostB.outbox().claimOnAppend(b).orElseThrow();
    ExecutorService pool = Executors.newFixedThreadPool(2);
    int bothClaimed = 0;
    try {
      for (int round = 0; round < 60; round++) {
        String site = "race-" + round;
        CyclicBarrier start = new CyclicBarrier(2);
        int r = round;
        Future<Long> fa =
            pool.submit(
                () -> {
                  start.await();
                  return hostA.outbox().append(event(site, 2 * r));
                });
        Future<Long> fb =
            pool.submit(
                () -> {
                  start.await();
                  return hostB.outbox().append(event(site, 2 * r + 1));
                });
        fa.get(10, TimeUnit.SECONDS);
        fb.get(10, TimeUnit.SECONDS);
        boolean byA = a.handed.stream().anyMatch(e -> e.site().value().equals(site));
        boolean byB = b.handed.stream().anyMatch(e -> e.site().value().equals(site));
        if (byA && byB) {
          bothClaimed++;
        }
      }
    } finally {
      pool.shutdownNow();
    }
    assertThat(bothClaimed)
        .as("rounds (of 60) in which two hosts held live claims on the same site at once")
        .isZero();
  }

  @Test
  @DisplayName(
      "an event claimed on append by a host that dies before handling it is claimed again after"
          + " its lease, with its delivery counted, and nothing of its site overtakes it")
  void hostDiesAfterCommit() {
    String schema = PgStores.newSchema();
    PostgresStore dying = store(schema, 4);
    PostgresStore survivor = store(schema, 4);
    Recorder dead = new Recorder("dead-host");
    dying.outbox().claimOnAppend(dead).orElseThrow();
    long first = dying.outbox().append(event("s1", 1));
    long second = survivor.outbox().append(event("s1", 2));
    assertThat(dead.handed).extracting(OutboxEvent::id).containsExactly(first);
    dying.close();

    Outbox outbox = survivor.outbox();
    assertThat(outbox.claim("survivor", 10, TTL)).isEmpty();
    clock.advance(TTL.plusSeconds(1));
    List<OutboxEvent> again = outbox.claim("survivor", 10, TTL);
    assertThat(again).extracting(OutboxEvent::id).containsExactly(first, second);
    assertThat(again.get(0).deliveryAttempt()).isEqualTo(2);
    assertThat(outbox.ack("survivor", List.of(first, second))).isEqualTo(2);
    assertThat(outbox.stats().undelivered()).isZero();
  }

  @Test
  @DisplayName(
      "a unit of work that emits events and then fails hands nothing to the local relay and"
          + " leaves no row; the next command on the site is claimed on append again")
  void rolledBackAppend() {
    PostgresStore host = store(PgStores.newSchema(), 1);
    Recorder local = new Recorder("local");
    host.outbox().claimOnAppend(local).orElseThrow();
    assertThatThrownBy(
            () ->
                host.metadata()
                    .inSite(
                        "fails after emitting",
                        SiteId.of("s1"),
                        RowSelection.WHOLE_SITE,
                        rows -> {
                          rows.emit(event("s1", 1));
                          throw new IllegalStateException("host bug");
                        }))
        .isInstanceOf(IllegalStateException.class);
    assertThat(local.handed).isEmpty();
    assertThat(host.outbox().stats().undelivered()).isZero();

    host.metadata()
        .inSite(
            "succeeds",
            SiteId.of("s1"),
            RowSelection.WHOLE_SITE,
            rows -> {
              rows.emit(event("s1", 2));
              return null;
            });
    assertThat(local.handed).extracting(e -> e.payload().get("seq")).containsExactly("2");
  }
}
