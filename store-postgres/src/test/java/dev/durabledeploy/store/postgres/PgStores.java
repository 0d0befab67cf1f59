package dev.durabledeploy.store.postgres;

import dev.durabledeploy.testkit.fixtures.PostgresExtension;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import javax.sql.DataSource;

/** Fresh stores for the TCK: each test gets its own migrated schema on the class's database. */
final class PgStores {

  /** The site-lock time to live of the test stores: short, so lost-lock cases finish quickly. */
  static final Duration LOCK_TTL = Duration.ofSeconds(2);

  private static final AtomicInteger SCHEMAS = new AtomicInteger();

  private PgStores() {}

  static PostgresStore fresh(PostgresExtension pg, Clock clock) {
    return PostgresStore.builder()
        .jdbcUrl(pg.jdbcUrl())
        .username(pg.username())
        .password(pg.password())
        .schema("tck_" + SCHEMAS.incrementAndGet())
        .clock(clock)
        .poolSize(20)
        .lockTtl(LOCK_TTL)
        .migrateOnStart(true)
        .build();
  }

  /** A store on the host's own pool, as most hosts run it. */
  static PostgresStore onHostPool(PostgresExtension pg, DataSource hostPool, Clock clock) {
    return onHostPool(pg, hostPool, clock, newSchema());
  }

  /** A store on the host's own pool, on the given (fresh) schema. */
  static PostgresStore onHostPool(
      PostgresExtension pg, DataSource hostPool, Clock clock, String schema) {
    return PostgresStore.builder()
        .dataSource(hostPool)
        .schema(schema)
        .clock(clock)
        .lockTtl(LOCK_TTL)
        .migrateOnStart(true)
        .build();
  }

  /** A store of the server's own pool on {@code schema}, every other setting the default. */
  static PostgresStore on(PostgresExtension pg, String schema) {
    return PostgresStore.builder()
        .jdbcUrl(pg.jdbcUrl())
        .username(pg.username())
        .password(pg.password())
        .schema(schema)
        .migrateOnStart(true)
        .build();
  }

  static String newSchema() {
    return "tck_" + SCHEMAS.incrementAndGet();
  }
}
