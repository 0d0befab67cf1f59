package dev.durabledeploy.examples.plane;

import dev.durabledeploy.store.postgres.PostgresStore;
import dev.durabledeploy.store.valkey.ValkeyStore;
import dev.durabledeploy.testkit.MutableClock;
import dev.durabledeploy.testkit.fixtures.PostgresExtension;
import dev.durabledeploy.testkit.fixtures.ValkeyExtension;
import java.util.concurrent.atomic.AtomicInteger;

/** The stores the whole-plane tests share, each fresh: a schema or a namespace per call. */
final class Planes {

  private static final AtomicInteger SCHEMAS = new AtomicInteger();

  private Planes() {}

  static PostgresStore postgres(PostgresExtension pg, MutableClock clock) {
    return PostgresStore.builder()
        .jdbcUrl(pg.jdbcUrl())
        .username(pg.username())
        .password(pg.password())
        .schema("plane_" + SCHEMAS.incrementAndGet())
        .clock(clock)
        .migrateOnStart(true)
        .build();
  }

  static ValkeyStore valkey(ValkeyExtension valkey, MutableClock clock) {
    return ValkeyStore.builder()
        .uri(valkey.uri().toString())
        .namespace(ValkeyExtension.newNamespace())
        .clock(clock)
        .build();
  }
}
