package dev.durabledeploy.store.valkey;

import dev.durabledeploy.spi.Store;
import dev.durabledeploy.store.memory.InMemoryStore;
import dev.durabledeploy.testkit.fixtures.ValkeyExtension;
import java.time.Clock;

/**
 * Test stores: a fresh namespace per store on the shared server. Until the metadata store and the
 * outbox exist on Valkey, the contracts for locks and leases get a {@link Store} whose locks and
 * leases are Valkey's and whose metadata and outbox are the in-memory reference (they do not use
 * those).
 */
final class ValkeyStores {

  /** The site-lock time to live of the test stores. */
  static final java.time.Duration LOCK_TTL = java.time.Duration.ofSeconds(2);

  private ValkeyStores() {}

  static ValkeyStore fresh(Clock clock) {
    return fresh(clock, ValkeyExtension.newNamespace());
  }

  static ValkeyStore fresh(Clock clock, String namespace) {
    return ValkeyStore.builder()
        .uri(ValkeyExtension.server().uri().toString())
        .namespace(namespace)
        .clock(clock)
        .lockTtl(LOCK_TTL)
        .build();
  }

  static Store locksAndLeases(Clock clock) {
    ValkeyStore valkey = fresh(clock);
    InMemoryStore memory = new InMemoryStore(clock);
    return Store.of(
        memory.metadata(), memory.outbox(), valkey.siteLocks(), valkey.jobLeases(), valkey);
  }
}
