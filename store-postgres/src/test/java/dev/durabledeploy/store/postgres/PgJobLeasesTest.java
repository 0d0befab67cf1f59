package dev.durabledeploy.store.postgres;

import dev.durabledeploy.spi.Store;
import dev.durabledeploy.testkit.MutableClock;
import dev.durabledeploy.testkit.fixtures.PostgresExtension;
import dev.durabledeploy.testkit.tck.JobLeasesContract;
import org.junit.jupiter.api.extension.RegisterExtension;

class PgJobLeasesTest extends JobLeasesContract {
  @RegisterExtension static final PostgresExtension PG = new PostgresExtension();

  @Override
  protected Store createStore(MutableClock clock) {
    return PgStores.fresh(PG, clock);
  }
}
