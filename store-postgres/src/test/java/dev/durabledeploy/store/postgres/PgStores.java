package dev.durabledeploy.store.postgres;

import dev.durabledeploy.testkit.fixtures.PostgresExtension;
import java.time.Clock;
import java.util.concurrent.atomic.AtomicInteger;

/** Fresh stores for the TCK: each test gets its own migrated schema on the class's database. */
final class PgStores {

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
        .lockPoolSize(20)
        .migrateOnStart(true)
        .build();
  }
}
