package dev.durabledeploy.store.valkey;

import dev.durabledeploy.spi.Store;
import dev.durabledeploy.testkit.MutableClock;
import dev.durabledeploy.testkit.tck.SiteRecordsContract;

class ValkeySiteRecordsTest extends SiteRecordsContract {

  @Override
  protected Store createStore(MutableClock clock) {
    return ValkeyStores.fresh(clock);
  }
}
