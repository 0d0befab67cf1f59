package dev.durabledeploy.store.memory;

import dev.durabledeploy.spi.Store;
import dev.durabledeploy.testkit.MutableClock;
import dev.durabledeploy.testkit.tck.SiteRecordsContract;

class InMemorySiteRecordsTest extends SiteRecordsContract {
  @Override
  protected Store createStore(MutableClock clock) {
    return new InMemoryStore(clock);
  }
}
