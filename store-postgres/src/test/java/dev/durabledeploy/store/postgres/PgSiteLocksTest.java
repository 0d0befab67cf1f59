package dev.durabledeploy.store.postgres;

import com.zaxxer.hikari.HikariDataSource;
import dev.durabledeploy.spi.Store;
import dev.durabledeploy.testkit.MutableClock;
import dev.durabledeploy.testkit.fixtures.PostgresExtension;
import dev.durabledeploy.testkit.fixtures.PostgresServer;
import dev.durabledeploy.testkit.tck.SiteLocksContract;
import java.time.Duration;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The site-lock contract on the host's own HikariCP pool of 4 connections, the configuration most
 * hosts run: the concurrent cases must finish within it and leave every connection free and clean.
 */
class PgSiteLocksTest extends SiteLocksContract {
  @RegisterExtension static final PostgresExtension PG = new PostgresExtension();

  private HikariDataSource hostPool;
  private String schema;

  @Override
  protected Store createStore(MutableClock clock) {
    hostPool = HostPools.open(PG, 4);
    schema = PgStores.newSchema();
    return PgStores.onHostPool(PG, hostPool, clock, schema);
  }

  /** Another host: a store with a pool of its own on the same schema. */
  @Override
  protected Optional<Store> anotherHost() {
    return Optional.of(
        PostgresStore.builder()
            .jdbcUrl(PG.jdbcUrl())
            .username(PG.username())
            .password(PG.password())
            .schema(schema)
            .poolSize(4)
            .lockTtl(PgStores.LOCK_TTL)
            .build());
  }

  @AfterEach
  void closeHostPool() {
    hostPool.close();
  }

  @Override
  protected void assertHostResourcesReturned() throws Exception {
    HostPools.assertAllFreeAndClean(hostPool);
  }

  @Override
  protected Optional<AutoCloseable> outage() throws Exception {
    PostgresServer server = PostgresExtension.server();
    server.stop();
    return Optional.of(server::restart);
  }

  @Override
  protected Duration lockTtl() {
    return PgStores.LOCK_TTL;
  }
}
