package dev.durabledeploy.store.memory;

import dev.durabledeploy.spi.Store;
import dev.durabledeploy.testkit.MutableClock;
import dev.durabledeploy.testkit.tck.StoreHealthContract;

class InMemoryStoreHealthTest extends StoreHealthContract {
  @Override
  protected Store createStore(MutableClock clock) {
    return new InMemoryStore(clock);
  }
}
