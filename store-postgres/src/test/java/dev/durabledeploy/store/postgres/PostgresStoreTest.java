package dev.durabledeploy.store.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.JobKey;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.exception.ConfigurationException;
import dev.durabledeploy.spi.exception.SiteBusyException;
import dev.durabledeploy.spi.lease.Lease;
import dev.durabledeploy.spi.lock.SiteLock;
import dev.durabledeploy.spi.outbox.NewEvent;
import dev.durabledeploy.spi.outbox.OutboxEvent;
import dev.durabledeploy.testkit.MutableClock;
import dev.durabledeploy.testkit.fixtures.PostgresExtension;
import dev.durabledeploy.testkit.tck.Rows;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.jdbi.v3.core.Handle;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

@DisplayName("PostgresStore on a real PostgreSQL")
class PostgresStoreTest {

  @RegisterExtension static final PostgresExtension PG = new PostgresExtension();
  private static final AtomicInteger SCHEMAS = new AtomicInteger();
  private static final SiteId SITE = SiteId.of("site-a");

  private final List<PostgresStore> opened = new ArrayList<>();
  private final MutableClock clock = new MutableClock();

  @AfterEach
  void close() {
    opened.forEach(PostgresStore::close);
  }

  private String newSchema() {
    return "it_" + SCHEMAS.incrementAndGet();
  }

  private PostgresStore store(String schema, boolean migrate) {
    PostgresStore store =
        PostgresStore.builder()
            .jdbcUrl(PG.jdbcUrl())
            .username(PG.username())
            .password(PG.password())
            .schema(schema)
            .clock(clock)
            .migrateOnStart(migrate)
            .build();
    opened.add(store);
    return store;
  }

  private void sql(String statement) throws SQLException {
    try (Connection c = PG.dataSource().getConnection();
        Statement s = c.createStatement()) {
      s.execute(statement);
    }
  }

  @Test
  @DisplayName(
      "4 stores with separate pools claim concurrently: every event once, in order per site")
  void fourHosts() throws Exception {
    String schema = newSchema();
    List<PostgresStore> hosts = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      hosts.add(store(schema, true));
    }
    int sites = 10;
    int perSite = 40;
    for (int n = 0; n < perSite; n++) {
      for (int s = 0; s < sites; s++) {
        hosts.get(0).outbox().append(new NewEvent(SiteId.of("s" + s), "e.x", Map.of()));
      }
    }
    Map<Long, Integer> deliveries = new ConcurrentHashMap<>();
    Map<SiteId, List<Long>> order = new ConcurrentHashMap<>();
    AtomicInteger acked = new AtomicInteger();
    ExecutorService pool = Executors.newFixedThreadPool(8);
    try {
      List<Future<?>> futures = new ArrayList<>();
      for (int t = 0; t < 8; t++) {
        PostgresStore host = hosts.get(t % 4);
        String owner = "host-" + t;
        futures.add(
            pool.submit(
                () -> {
                  long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                  while (acked.get() < sites * perSite && System.nanoTime() < deadline) {
                    List<OutboxEvent> batch = host.outbox().claim(owner, 5, Duration.ofMinutes(10));
                    for (OutboxEvent e : batch) {
                      deliveries.merge(e.id(), 1, Integer::sum);
                      order
                          .computeIfAbsent(
                              e.site(), x -> Collections.synchronizedList(new ArrayList<>()))
                          .add(e.id());
                    }
                    acked.addAndGet(
                        host.outbox().ack(owner, batch.stream().map(OutboxEvent::id).toList()));
                  }
                  return null;
                }));
      }
      for (Future<?> f : futures) {
        f.get(90, TimeUnit.SECONDS);
      }
    } finally {
      pool.shutdownNow();
    }
    assertThat(deliveries).hasSize(sites * perSite);
    assertThat(deliveries.values()).allMatch(n -> n == 1);
    order.values().forEach(ids -> assertThat(ids).hasSize(perSite).isSorted());
  }

  @Test
  @DisplayName(
      "a site lock blocks another host until released, and is freed when its holder stops renewing")
  void siteLockAcrossHosts() throws Exception {
    String schema = newSchema();
    PostgresStore a = lockStore(schema, true);
    PostgresStore b = lockStore(schema, false);
    SiteLock held = a.siteLocks().acquire(SITE, Duration.ofSeconds(5));
    assertThatThrownBy(() -> b.siteLocks().acquire(SITE, Duration.ofMillis(300)))
        .isInstanceOf(SiteBusyException.class);
    held.close();
    try (SiteLock again = b.siteLocks().acquire(SITE, Duration.ofSeconds(5))) {
      assertThat(again.isHeld()).isTrue();
    }

    // Host a dies holding the lock: its store stops renewing, without releasing the row.
    SiteLock doomed = a.siteLocks().acquire(SITE, Duration.ofSeconds(5));
    sql("UPDATE " + schema + ".site_locks SET holder = 'crashed-host'");
    long start = System.nanoTime();
    try (SiteLock taken = b.siteLocks().acquire(SITE, PgStores.LOCK_TTL.multipliedBy(5))) {
      assertThat(taken.isHeld()).isTrue();
      assertThat(Duration.ofNanos(System.nanoTime() - start))
          .isLessThan(PgStores.LOCK_TTL.multipliedBy(2));
      // The old holder's watchdog found the row no longer its own: lost, and its release frees
      // nobody else's lock.
      await().atMost(PgStores.LOCK_TTL.multipliedBy(2)).until(() -> !doomed.isHeld());
      doomed.close();
      assertThatThrownBy(() -> a.siteLocks().acquire(SITE, Duration.ZERO))
          .isInstanceOf(SiteBusyException.class);
    }
  }

  @Test
  @DisplayName("every acquisition of a site lock gets a new generation; a release is guarded by it")
  void generations() throws Exception {
    String schema = newSchema();
    PostgresStore a = lockStore(schema, true);
    List<Long> generations = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      try (SiteLock lock = a.siteLocks().acquire(SITE, Duration.ofSeconds(5))) {
        generations.add(one("SELECT generation FROM " + schema + ".site_locks"));
      }
    }
    assertThat(generations).isSorted().doesNotHaveDuplicates();
    assertThat(one("SELECT count(*) FROM " + schema + ".site_locks")).isZero();
  }

  private long one(String query) throws SQLException {
    try (Connection c = PG.dataSource().getConnection();
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery(query)) {
      rs.next();
      return rs.getLong(1);
    }
  }

  private PostgresStore lockStore(String schema, boolean migrate) {
    PostgresStore store =
        PostgresStore.builder()
            .jdbcUrl(PG.jdbcUrl())
            .username(PG.username())
            .password(PG.password())
            .schema(schema)
            .clock(clock)
            .lockTtl(PgStores.LOCK_TTL)
            .migrateOnStart(migrate)
            .build();
    opened.add(store);
    return store;
  }

  @Test
  @DisplayName("migrations started by 4 hosts at once apply exactly once")
  void concurrentMigrations() throws Exception {
    String schema = newSchema();
    try (PostgresStore probe = store(schema + "_probe", true)) {
      opened.remove(probe);
    }
    ExecutorService pool = Executors.newFixedThreadPool(4);
    CountDownLatch start = new CountDownLatch(1);
    try {
      List<Future<PostgresStore>> futures = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        futures.add(
            pool.submit(
                () -> {
                  start.await();
                  return store(schema, true);
                }));
      }
      start.countDown();
      for (Future<PostgresStore> f : futures) {
        assertThat(f.get(120, TimeUnit.SECONDS)).isNotNull();
      }
    } finally {
      pool.shutdownNow();
    }
    try (Connection c = PG.dataSource().getConnection();
        Statement s = c.createStatement();
        ResultSet rs =
            s.executeQuery(
                "SELECT count(*), count(DISTINCT version), count(*) FILTER (WHERE NOT success)"
                    + " FROM "
                    + schema
                    + ".flyway_schema_history WHERE version IS NOT NULL")) {
      rs.next();
      // Every migration once: as many rows as versions, none failed.
      assertThat(rs.getInt(1)).isGreaterThanOrEqualTo(1).isEqualTo(rs.getInt(2));
      assertThat(rs.getInt(3)).isZero();
    }
    PostgresStore.requireMigrated(PG.dataSource(), schema);
  }

  @Test
  @DisplayName(
      "a database without the migrations is refused with the missing migration and the fix")
  void unmigrated() {
    assertThatThrownBy(() -> store(newSchema(), false))
        .isInstanceOf(SchemaNotMigratedException.class)
        .hasMessageContaining("V1__deploy_plane")
        .hasMessageContaining("PostgresStore.migrate()")
        .hasMessageContaining(PostgresStore.MIGRATIONS);
  }

  @Test
  @DisplayName("the audit log refuses UPDATE, DELETE and TRUNCATE")
  void auditAppendOnly() {
    String schema = newSchema();
    PostgresStore store = store(schema, true);
    Rows.pending(store.metadata(), SITE, DeployId.of("20260101-000000-abcdef0"));
    for (String statement :
        List.of(
            "UPDATE " + schema + ".audit_log SET actor = 'mallory'",
            "DELETE FROM " + schema + ".audit_log",
            "TRUNCATE " + schema + ".audit_log")) {
      assertThatThrownBy(() -> sql(statement))
          .isInstanceOf(SQLException.class)
          .hasMessageContaining("append-only");
    }
    assertThat(store.metadata().auditLog(SITE, 10)).hasSize(1);
  }

  @Test
  @DisplayName("an event appended in the host's transaction commits and rolls back with it")
  void hostTransaction() throws SQLException {
    PostgresStore store = store(newSchema(), true);
    store.jdbi().useHandle(h -> h.execute("CREATE TABLE <schema>.orders (id int)"));
    try {
      store
          .jdbi()
          .useTransaction(
              h -> {
                h.execute("INSERT INTO <schema>.orders VALUES (1)");
                store.appendInTransaction(h, new NewEvent(SITE, "order.placed", Map.of("id", "1")));
                throw new IllegalStateException("host fails after appending");
              });
    } catch (IllegalStateException expected) {
      assertThat(expected).hasMessageContaining("host fails");
    }
    assertThat(store.outbox().stats().undelivered()).isZero();
    try (Connection c = PG.dataSource().getConnection()) {
      c.setAutoCommit(false);
      store.appendInTransaction(c, new NewEvent(SITE, "order.placed", Map.of("id", "2")));
      c.rollback();
      store.appendInTransaction(c, new NewEvent(SITE, "order.placed", Map.of("id", "3")));
      c.commit();
    }
    List<OutboxEvent> events = store.outbox().claim("o", 10, Duration.ofMinutes(1));
    assertThat(events).extracting(e -> e.get("id")).containsExactly("3");
    Integer orders =
        store
            .jdbi()
            .withHandle(
                (Handle h) ->
                    h.createQuery("SELECT count(*) FROM <schema>.orders")
                        .mapTo(Integer.class)
                        .one());
    assertThat(orders).isZero();
  }

  @Test
  @DisplayName("LISTEN/NOTIFY wakes a subscriber when another host commits an event")
  void notifyWakesSubscriber() {
    String schema = newSchema();
    PostgresStore listener = store(schema, true);
    PostgresStore writer = store(schema, false);
    AtomicInteger wakes = new AtomicInteger();
    var subscription = listener.outbox().onAppend(wakes::incrementAndGet).orElseThrow();
    // The listener wakes its subscribers once when LISTEN is in place (to cover what it missed).
    await().atMost(Duration.ofSeconds(10)).until(() -> wakes.get() >= 1);
    int before = wakes.get();
    writer.outbox().append(new NewEvent(SITE, "e.x", Map.of()));
    await().atMost(Duration.ofSeconds(5)).until(() -> wakes.get() > before);
    subscription.close();
  }

  @Test
  @DisplayName("a lease row without an expiry stamp is stolen at once")
  void stamplessLease() throws SQLException {
    String schema = newSchema();
    PostgresStore store = store(schema, true);
    sql(
        "INSERT INTO "
            + schema
            + ".job_leases (job_key, owner, started_at, expires_at, attempt)"
            + " VALUES ('index:old', 'crashed-host', now(), NULL, 1)");
    assertThat(store.jobLeases().listExpired(10))
        .extracting(l -> l.key().value())
        .containsExactly("index:old");
    Lease stolen =
        store
            .jobLeases()
            .tryAcquire(JobKey.of("index:old"), "me", Duration.ofMinutes(1))
            .orElseThrow();
    assertThat(stolen.owner()).isEqualTo("me");
    assertThat(stolen.attempt()).isEqualTo(2);
  }

  @Test
  @DisplayName("bad configuration fails at build naming the property, never showing the password")
  void configuration() {
    assertThatThrownBy(() -> PostgresStore.builder().jdbcUrl("jdbc:mysql://x/y").build())
        .isInstanceOfSatisfying(
            ConfigurationException.class, e -> assertThat(e.property()).isEqualTo("jdbcUrl"));
    assertThatThrownBy(
            () -> PostgresStore.builder().jdbcUrl(PG.jdbcUrl()).schema("Bad-Schema").build())
        .isInstanceOfSatisfying(
            ConfigurationException.class, e -> assertThat(e.property()).isEqualTo("schema"));
    assertThatThrownBy(
            () ->
                PostgresStore.builder()
                    .jdbcUrl("jdbc:postgresql://127.0.0.1:1/nowhere?password=hunter2")
                    .password("s3cret-pw")
                    .connectionTimeout(Duration.ofMillis(500))
                    .build())
        .isInstanceOfSatisfying(
            ConfigurationException.class,
            e -> {
              assertThat(e.property()).isEqualTo("jdbcUrl");
              assertThat(e.getMessage()).doesNotContain("hunter2").doesNotContain("s3cret-pw");
            });
  }

  @Test
  @DisplayName("a blocked site's backlog larger than any scan window does not starve other sites")
  void blockedBacklogDoesNotStarve() throws SQLException {
    String schema = newSchema();
    PostgresStore store = store(schema, true);
    // 10,000 events of one site under a live claim, and 5,000 of another that failed and is not
    // due for an hour: more than the widest claim window.
    sql(
        "INSERT INTO "
            + schema
            + ".outbox (site, type, payload, created_at, next_attempt_at,"
            + " claimed_by, claim_expires_at) SELECT 'busy', 'e.x', '{}', now(), now(), 'holder',"
            + " timestamptz '2030-01-01' FROM generate_series(1, 10000)");
    sql(
        "INSERT INTO "
            + schema
            + ".outbox (site, type, payload, created_at, next_attempt_at)"
            + " SELECT 'failing', 'e.x', '{}', now(), timestamptz '2030-01-01' FROM generate_series(1, 5000)");
    for (int i = 0; i < 10; i++) {
      store.outbox().append(new NewEvent(SiteId.of("quiet"), "e.x", Map.of()));
    }
    List<OutboxEvent> claimed = store.outbox().claim("other", 5, Duration.ofMinutes(1));
    assertThat(claimed).hasSize(5).allMatch(e -> e.site().value().equals("quiet"));
  }
}
