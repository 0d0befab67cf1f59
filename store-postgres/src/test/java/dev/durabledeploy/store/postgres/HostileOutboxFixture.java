package dev.durabledeploy.store.postgres;

import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.outbox.AppendClaimer;
import dev.durabledeploy.spi.outbox.NewEvent;
import dev.durabledeploy.spi.outbox.OutboxEvent;
import dev.durabledeploy.testkit.MutableClock;
import dev.durabledeploy.testkit.fixtures.PostgresExtension;
import java.sql.Connection;
import java.sql.DriverManager;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * What the hostile outbox tests share: a store of their own per schema on the embedded server, raw
 * connections standing in for other hosts, and a local relay that only records what it is handed.
 */
abstract class HostileOutboxFixture {
  /** The lease of every claim the tests make, on the store's clock (which only a test moves). */
  static final Duration TTL = Duration.ofSeconds(30);

  @RegisterExtension static final PostgresExtension PG = new PostgresExtension();

  final List<AutoCloseable> closing = new ArrayList<>();
  final MutableClock clock = new MutableClock(Instant.parse("2026-01-01T00:00:00Z"));

  @AfterEach
  void close() throws Exception {
    Collections.reverse(closing);
    for (AutoCloseable c : closing) {
      c.close();
    }
  }

  PostgresStore store(String schema, int poolSize) {
    PostgresStore store =
        PostgresStore.builder()
            .jdbcUrl(PG.jdbcUrl())
            .username(PG.username())
            .password(PG.password())
            .schema(schema)
            .clock(clock)
            .poolSize(poolSize)
            .connectionTimeout(Duration.ofSeconds(2))
            .lockTtl(PgStores.LOCK_TTL)
            .migrateOnStart(true)
            .build();
    closing.add(store);
    return store;
  }

  Connection raw() throws Exception {
    Connection c = DriverManager.getConnection(PG.jdbcUrl(), PG.username(), PG.password());
    closing.add(c);
    return c;
  }

  static NewEvent event(String site, int seq) {
    return new NewEvent(
        SiteId.of(site), "test.event", Map.of("site", site, "seq", Integer.toString(seq)));
  }

  /** A local relay that records what it is handed (and, like a crashed host, does nothing). */
  static final class Recorder implements AppendClaimer {
    final String owner;
    final List<OutboxEvent> handed = new CopyOnWriteArrayList<>();

    Recorder(String owner) {
      this.owner = owner;
    }

    @Override
    public String owner() {
      return owner;
    }

    @Override
    public Duration leaseTtl() {
      return TTL;
    }

    @Override
    public boolean hasRoom() {
      return true;
    }

    @Override
    public void claimed(Duration leaseAge, List<OutboxEvent> events) {
      handed.addAll(events);
    }
  }
}
