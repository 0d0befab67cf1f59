package dev.durabledeploy.store.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import com.zaxxer.hikari.HikariDataSource;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.metadata.RowSelection;
import dev.durabledeploy.spi.outbox.OutboxEvent;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** Hostile host against int2: lockless claim fallback, generic plans, claiming append's locks. */
@DisplayName("hostile (int2): claim fallback, plan_cache_mode, claiming append's site locks")
class Hostile27bOutboxTest extends HostileOutboxFixture {

  @Test
  @DisplayName(
      "claims past the claim lock's wait (lock held by a stalled claimer) on two hosts, with appends"
          + " beside them: each site to one owner at a time, in order, none lost")
  void locklessClaimsKeepOrderAndOneOwner() throws Exception {
    String schema = PgStores.newSchema();
    PostgresStore hostA = store(schema, 4);
    PostgresStore hostB = store(schema, 4);
    List<String> sites = List.of("s1", "s2", "s3");
    int perSite = 150;
    Map<String, AtomicInteger> appended = new ConcurrentHashMap<>();
    sites.forEach(s -> appended.put(s, new AtomicInteger()));
    for (int i = 0; i < perSite / 3; i++) {
      for (String s : sites) {
        hostA.outbox().append(event(s, appended.get(s).getAndIncrement()));
      }
    }
    Connection stalled = raw();
    stalled.setAutoCommit(false);
    try (Statement s = stalled.createStatement()) {
      s.execute("SELECT pg_advisory_xact_lock(" + PgOutbox.claimLockKey(schema) + ")");
    }
    Map<String, String> owners = new ConcurrentHashMap<>();
    Map<String, Integer> nextSeq = new ConcurrentHashMap<>();
    sites.forEach(s -> nextSeq.put(s, 0));
    List<String> violations = new CopyOnWriteArrayList<>();
    AtomicInteger delivered = new AtomicInteger();
    int total = perSite * sites.size();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    ExecutorService pool = Executors.newFixedThreadPool(5);
    List<Future<?>> runs = new ArrayList<>();
    try {
      runs.add(
          pool.submit(
              () -> {
                // Producer: the remaining events, while the claimers run without the lock.
                for (int i = perSite / 3; i < perSite; i++) {
                  for (String s : sites) {
                    hostB.outbox().append(event(s, appended.get(s).getAndIncrement()));
                  }
                }
                return null;
              }));
      for (PostgresStore host : List.of(hostA, hostB, hostA, hostB)) {
        String owner = "owner-" + runs.size();
        runs.add(
            pool.submit(
                () -> {
                  while (delivered.get() < total && System.nanoTime() < deadline) {
                    List<OutboxEvent> got = host.outbox().claim(owner, 4, TTL);
                    List<String> mine = new ArrayList<>();
                    for (OutboxEvent e : got) {
                      String site = e.site().value();
                      String prev = owners.putIfAbsent(site, owner);
                      if (prev != null && !prev.equals(owner)) {
                        violations.add(owner + " got " + site + " while " + prev + " owns it");
                      }
                      if (!mine.contains(site)) {
                        mine.add(site);
                      }
                      int seq = Integer.parseInt(e.payload().get("seq"));
                      synchronized (nextSeq) {
                        if (nextSeq.get(site) != seq) {
                          violations.add(
                              site + ": got seq " + seq + ", expected " + nextSeq.get(site));
                        }
                        nextSeq.put(site, seq + 1);
                      }
                    }
                    // Give the sites up before the ack commits: nobody may claim them before.
                    mine.forEach(s -> owners.remove(s, owner));
                    if (!got.isEmpty()) {
                      host.outbox().ack(owner, got.stream().map(OutboxEvent::id).toList());
                      delivered.addAndGet(got.size());
                    }
                  }
                  return null;
                }));
      }
      for (Future<?> f : runs) {
        f.get(90, TimeUnit.SECONDS);
      }
      // The stalled claimer still held the lock throughout: every claim ran without it (after 1 s).
      try (Statement s = stalled.createStatement();
          ResultSet rs =
              s.executeQuery(
                  "SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid()"
                      + " AND locktype = 'advisory' AND granted")) {
        rs.next();
        assertThat(rs.getInt(1)).isEqualTo(1);
      }
    } finally {
      stalled.rollback();
      pool.shutdownNow();
    }
    assertThat(violations).isEmpty();
    assertThat(delivered.get()).isEqualTo(total);
    assertThat(nextSeq)
        .containsOnlyKeys(sites)
        .allSatisfy((s, n) -> assertThat(n).isEqualTo(perSite));
  }

  @Test
  @DisplayName(
      "after units of work, a failed one and a standalone append, the host's pooled connection"
          + " plans as before (plan_cache_mode auto), with a local relay claiming on append")
  void planCacheModeDoesNotLeak() throws Exception {
    HikariDataSource hostPool = HostPools.open(PG, 3);
    closing.add(hostPool);
    PostgresStore store = PgStores.onHostPool(PG, hostPool, clock);
    closing.add(store);
    store.outbox().claimOnAppend(new Recorder("local")).orElseThrow();
    store
        .metadata()
        .inSite(
            "c1",
            SiteId.of("a"),
            RowSelection.WHOLE_SITE,
            rows -> {
              rows.emit(event("a", 0));
              rows.emit(event("b", 0));
              return null;
            });
    assertThat(planCacheMode(hostPool, 3)).isEqualTo("auto");
    try {
      store
          .metadata()
          .inSite(
              "c2",
              SiteId.of("a"),
              RowSelection.WHOLE_SITE,
              rows -> {
                rows.emit(event("a", 1));
                throw new IllegalStateException("host's work fails");
              });
    } catch (IllegalStateException expected) {
      // the work's own failure
    }
    assertThat(planCacheMode(hostPool, 3)).isEqualTo("auto");
    store.outbox().append(event("c", 0));
    assertThat(planCacheMode(hostPool, 3)).isEqualTo("auto");
    store.outbox().claim("o", 10, TTL);
    assertThat(planCacheMode(hostPool, 3)).isEqualTo("auto");
  }

  /** The plan_cache_mode of every one of the pool's connections, taken at once ("auto" if all). */
  private static String planCacheMode(HikariDataSource pool, int size) throws Exception {
    List<Connection> taken = new ArrayList<>();
    try {
      java.util.Set<String> modes = new java.util.TreeSet<>();
      for (int i = 0; i < size; i++) {
        Connection c = pool.getConnection();
        taken.add(c);
        try (Statement s = c.createStatement();
            ResultSet rs = s.executeQuery("SHOW plan_cache_mode")) {
          rs.next();
          modes.add(rs.getString(1));
        }
      }
      return String.join(",", modes);
    } finally {
      for (Connection c : taken) {
        c.close();
      }
    }
  }

  @Test
  @DisplayName(
      "a command on site A emitting for B beside one on B emitting for A, with a local relay"
          + " claiming on append: both commit (no deadlock between the claiming appends' locks)")
  void crossSiteEmitsDoNotDeadlock() throws Exception {
    String schema = PgStores.newSchema();
    PostgresStore host = store(schema, 6);
    Recorder local = new Recorder("local");
    host.outbox().claimOnAppend(local).orElseThrow();
    CyclicBarrier bothLocked = new CyclicBarrier(2);
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try {
      List<Future<Object>> commands = new ArrayList<>();
      for (String[] pair : new String[][] {{"a", "b"}, {"b", "a"}}) {
        commands.add(
            pool.submit(
                () -> {
                  try {
                    return host.metadata()
                        .inSite(
                            "cross",
                            SiteId.of(pair[0]),
                            RowSelection.WHOLE_SITE,
                            rows -> {
                              rows.emit(event(pair[1], 0));
                              try {
                                bothLocked.await(10, TimeUnit.SECONDS);
                              } catch (Exception e) {
                                throw new IllegalStateException(e);
                              }
                              return "done";
                            });
                  } catch (RuntimeException e) {
                    return e.toString();
                  }
                }));
      }
      List<Object> results = new ArrayList<>();
      for (Future<Object> f : commands) {
        results.add(f.get(30, TimeUnit.SECONDS));
      }
      assertThat(results).containsExactly("done", "done");
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  @DisplayName(
      "a standalone append to a site, with a local relay claiming on append, is not held for the"
          + " length of a command running on the site")
  void standaloneAppendNotHeldByLongCommand() throws Exception {
    String schema = PgStores.newSchema();
    PostgresStore host = store(schema, 4);
    host.outbox().claimOnAppend(new Recorder("local")).orElseThrow();
    CountDownLatch inCommand = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try {
      Future<Object> command =
          pool.submit(
              () ->
                  host.metadata()
                      .inSite(
                          "long",
                          SiteId.of("a"),
                          RowSelection.WHOLE_SITE,
                          rows -> {
                            inCommand.countDown();
                            try {
                              release.await(30, TimeUnit.SECONDS);
                            } catch (InterruptedException e) {
                              throw new IllegalStateException(e);
                            }
                            return "done";
                          }));
      assertThat(inCommand.await(10, TimeUnit.SECONDS)).isTrue();
      Future<Long> append = pool.submit(() -> host.outbox().append(event("a", 0)));
      Object appended;
      try {
        appended = append.get(5, TimeUnit.SECONDS);
      } catch (java.util.concurrent.TimeoutException e) {
        appended = "still waiting 5 s into the command";
      } finally {
        release.countDown();
      }
      assertThat(command.get(10, TimeUnit.SECONDS)).isEqualTo("done");
      assertThat(appended).isInstanceOf(Long.class);
    } finally {
      release.countDown();
      pool.shutdownNow();
    }
  }

  @Test
  @DisplayName(
      "an append to a site with 10,000 undelivered events is not claimed, and costs about what one"
          + " to an empty site does")
  void appendOnLargeBacklog() throws Exception {
    String schema = PgStores.newSchema();
    PostgresStore host = store(schema, 4);
    Recorder local = new Recorder("local");
    host.outbox().claimOnAppend(local).orElseThrow();
    try (Connection c = raw();
        Statement s = c.createStatement()) {
      s.execute(
          "INSERT INTO "
              + schema
              + ".outbox (site, type, payload, created_at,"
              + " next_attempt_at) SELECT 'big', 't', '{}', now(), now() FROM generate_series(1, 10000)");
      s.execute("ANALYZE " + schema + ".outbox");
    }
    for (int round = 0; round < 3; round++) {
      long big = 0;
      long empty = 0;
      for (int i = 0; i < 100; i++) {
        long t0 = System.nanoTime();
        host.outbox().append(event("big", i));
        long t1 = System.nanoTime();
        String site = "e" + round + "-" + i;
        host.outbox().append(event(site, 0));
        long t2 = System.nanoTime();
        big += t1 - t0;
        empty += t2 - t1;
        // release the empty site's claim so nothing grows there
      }
      System.out.printf(
          "round %d: 100 appends to backlog site %.1f ms, to empty sites %.1f ms%n",
          round, big / 1e6, empty / 1e6);
    }
    assertThat(local.handed).noneMatch(e -> e.site().value().equals("big"));
    assertThat(local.handed).hasSize(300);
    try (Connection c = raw();
        Statement s = c.createStatement()) {
      s.execute("BEGIN");
      s.execute("SET LOCAL plan_cache_mode = force_generic_plan");
      s.execute(
          "PREPARE q(text) AS SELECT count(*) FROM "
              + schema
              + ".outbox b WHERE b.site = $1 AND b.delivered_at IS NULL");
      try (ResultSet rs = s.executeQuery("EXPLAIN (ANALYZE, BUFFERS) EXECUTE q('big')")) {
        while (rs.next()) {
          System.out.println("PLAN " + rs.getString(1));
        }
      }
      s.execute("ROLLBACK");
    }
  }
}
