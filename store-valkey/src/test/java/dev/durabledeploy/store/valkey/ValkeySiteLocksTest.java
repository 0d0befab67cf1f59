package dev.durabledeploy.store.valkey;

import dev.durabledeploy.spi.Store;
import dev.durabledeploy.testkit.MutableClock;
import dev.durabledeploy.testkit.fixtures.ValkeyExtension;
import dev.durabledeploy.testkit.fixtures.ValkeyServer;
import dev.durabledeploy.testkit.tck.SiteLocksContract;
import java.time.Duration;
import java.util.Optional;

class ValkeySiteLocksTest extends SiteLocksContract {

  private String namespace;

  @Override
  protected Store createStore(MutableClock clock) {
    namespace = ValkeyExtension.newNamespace();
    return ValkeyStores.fresh(clock, namespace);
  }

  /** Another host: a store with connections of its own on the same namespace. */
  @Override
  protected Optional<Store> anotherHost() {
    return Optional.of(ValkeyStores.fresh(java.time.Clock.systemUTC(), namespace));
  }

  @Override
  protected Optional<AutoCloseable> outage() {
    ValkeyServer server = ValkeyExtension.server();
    server.stop();
    return Optional.of(server::restart);
  }

  @Override
  protected Duration lockTtl() {
    return ValkeyStores.LOCK_TTL;
  }
}
