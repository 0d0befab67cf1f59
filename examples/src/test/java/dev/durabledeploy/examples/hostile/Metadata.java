package dev.durabledeploy.examples.hostile;

import dev.durabledeploy.spi.Store;
import dev.durabledeploy.store.memory.InMemoryStore;
import dev.durabledeploy.store.postgres.PostgresStore;
import dev.durabledeploy.store.valkey.ValkeyStore;
import dev.durabledeploy.testkit.MutableClock;
import dev.durabledeploy.testkit.fixtures.PostgresExtension;
import dev.durabledeploy.testkit.fixtures.ValkeyExtension;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

/** The three metadata stores, each a fresh empty one on the test's clock. */
final class Metadata {

  private static final AtomicInteger SCHEMAS = new AtomicInteger();

  private Metadata() {}

  /** A named factory: clock -> a fresh store. */
  record Kind(String name, Function<MutableClock, Store> factory) {
    Store create(MutableClock clock) {
      return factory.apply(clock);
    }

    @Override
    public String toString() {
      return name;
    }
  }

  static Kind memory() {
    return new Kind("memory", InMemoryStore::new);
  }

  static Kind postgres(PostgresExtension pg) {
    return new Kind(
        "postgres",
        clock ->
            PostgresStore.builder()
                .jdbcUrl(pg.jdbcUrl())
                .username(pg.username())
                .password(pg.password())
                .schema("hmeta_" + SCHEMAS.incrementAndGet())
                .clock(clock)
                .migrateOnStart(true)
                .build());
  }

  static Kind valkey(ValkeyExtension valkey) {
    return new Kind(
        "valkey",
        clock ->
            ValkeyStore.builder()
                .uri(valkey.uri().toString())
                .namespace(ValkeyExtension.newNamespace())
                .clock(clock)
                .build());
  }
}
