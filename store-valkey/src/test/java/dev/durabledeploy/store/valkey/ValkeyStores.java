package dev.durabledeploy.store.valkey;

import dev.durabledeploy.spi.Store;
import dev.durabledeploy.spi.lease.JobLeases;
import dev.durabledeploy.spi.lock.SiteLocks;
import dev.durabledeploy.spi.metadata.MetadataStore;
import dev.durabledeploy.spi.outbox.Outbox;
import dev.durabledeploy.testkit.fixtures.ValkeyExtension;
import dev.durabledeploy.testkit.memory.InMemoryStore;
import java.time.Clock;

/**
 * Test stores: a fresh namespace per store on the shared server. Until the metadata store and the
 * outbox exist on Valkey, the contracts for locks and leases get a {@link Store} whose locks and
 * leases are Valkey's and whose metadata and outbox are the in-memory reference (they do not use
 * those).
 */
final class ValkeyStores {

  private ValkeyStores() {}

  static ValkeyStore fresh(Clock clock) {
    return ValkeyStore.builder()
        .uri(ValkeyExtension.server().uri().toString())
        .namespace(ValkeyExtension.newNamespace())
        .clock(clock)
        .lockTtl(java.time.Duration.ofSeconds(2))
        .build();
  }

  static Store locksAndLeases(Clock clock) {
    ValkeyStore valkey = fresh(clock);
    InMemoryStore memory = new InMemoryStore(clock);
    return new Store() {
      @Override
      public MetadataStore metadata() {
        return memory.metadata();
      }

      @Override
      public Outbox outbox() {
        return memory.outbox();
      }

      @Override
      public SiteLocks siteLocks() {
        return valkey.siteLocks();
      }

      @Override
      public JobLeases jobLeases() {
        return valkey.jobLeases();
      }

      @Override
      public void close() {
        valkey.close();
      }
    };
  }
}
