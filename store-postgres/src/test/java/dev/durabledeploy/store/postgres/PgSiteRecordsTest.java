package dev.durabledeploy.store.postgres;

import dev.durabledeploy.spi.Store;
import dev.durabledeploy.testkit.MutableClock;
import dev.durabledeploy.testkit.fixtures.PostgresExtension;
import dev.durabledeploy.testkit.tck.SiteRecordsContract;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The record contract on PostgreSQL. This store reads the record in the statement after the one
 * that takes the site's lock: read in the same statement, under READ COMMITTED, a work that waited
 * for the lock would see the record as it was before the holder committed, and its version bump
 * would overwrite the holder's (the contract's {@code concurrentBumps}).
 */
class PgSiteRecordsTest extends SiteRecordsContract {
  @RegisterExtension static final PostgresExtension PG = new PostgresExtension();

  @Override
  protected Store createStore(MutableClock clock) {
    return PgStores.fresh(PG, clock);
  }
}
