package dev.durabledeploy.store.valkey;

import dev.durabledeploy.spi.Store;
import dev.durabledeploy.spi.lease.JobLeases;
import dev.durabledeploy.spi.lock.SiteLocks;
import dev.durabledeploy.spi.metadata.MetadataStore;
import dev.durabledeploy.spi.outbox.Outbox;
import dev.durabledeploy.testkit.MutableClock;
import dev.durabledeploy.testkit.memory.InMemoryStore;
import dev.durabledeploy.testkit.tck.MetadataStoreContract;
import java.time.Duration;

/** The cache must not change what the metadata store it fronts promises. */
class CachingMetadataStoreContractTest extends MetadataStoreContract {

  @Override
  protected Store createStore(MutableClock clock) {
    ValkeyStore valkey = ValkeyStores.fresh(clock);
    InMemoryStore memory = new InMemoryStore(clock);
    CachingMetadataStore cached = valkey.cached(memory.metadata(), Duration.ofMinutes(5));
    return new Store() {
      @Override
      public MetadataStore metadata() {
        return cached;
      }

      @Override
      public Outbox outbox() {
        return memory.outbox();
      }

      @Override
      public SiteLocks siteLocks() {
        return memory.siteLocks();
      }

      @Override
      public JobLeases jobLeases() {
        return memory.jobLeases();
      }

      @Override
      public void close() {
        valkey.close();
      }
    };
  }
}
