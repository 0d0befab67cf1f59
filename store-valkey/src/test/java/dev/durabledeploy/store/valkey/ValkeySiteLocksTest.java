package dev.durabledeploy.store.valkey;

import dev.durabledeploy.spi.Store;
import dev.durabledeploy.testkit.MutableClock;
import dev.durabledeploy.testkit.tck.SiteLocksContract;

class ValkeySiteLocksTest extends SiteLocksContract {

  @Override
  protected Store createStore(MutableClock clock) {
    return ValkeyStores.fresh(clock);
  }
}
