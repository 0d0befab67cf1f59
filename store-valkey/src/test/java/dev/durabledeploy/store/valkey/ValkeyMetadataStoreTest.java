package dev.durabledeploy.store.valkey;

import dev.durabledeploy.spi.Store;
import dev.durabledeploy.testkit.MutableClock;
import dev.durabledeploy.testkit.tck.MetadataStoreContract;

class ValkeyMetadataStoreTest extends MetadataStoreContract {

  @Override
  protected Store createStore(MutableClock clock) {
    return ValkeyStores.fresh(clock);
  }
}
