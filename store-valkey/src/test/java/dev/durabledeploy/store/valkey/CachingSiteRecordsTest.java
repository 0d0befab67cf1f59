package dev.durabledeploy.store.valkey;

import dev.durabledeploy.spi.Store;
import dev.durabledeploy.store.memory.InMemoryStore;
import dev.durabledeploy.testkit.MutableClock;
import dev.durabledeploy.testkit.tck.SiteRecordsContract;
import java.time.Duration;

/** The cache must not change what the store it fronts promises of site records. */
class CachingSiteRecordsTest extends SiteRecordsContract {

  @Override
  protected Store createStore(MutableClock clock) {
    ValkeyStore valkey = ValkeyStores.fresh(clock);
    InMemoryStore memory = new InMemoryStore(clock);
    CachingMetadataStore cached = valkey.cached(memory.metadata(), Duration.ofMinutes(5));
    return Store.of(cached, memory.outbox(), memory.siteLocks(), memory.jobLeases(), valkey);
  }
}
