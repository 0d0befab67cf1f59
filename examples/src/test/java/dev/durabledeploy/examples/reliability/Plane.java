package dev.durabledeploy.examples.reliability;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.durabledeploy.core.DeployOptions;
import dev.durabledeploy.core.DurableDeploy;
import dev.durabledeploy.core.events.AsyncEventBus;
import dev.durabledeploy.engine.executor.ExecutorEngine;
import dev.durabledeploy.spi.blob.BlobStore;
import dev.durabledeploy.store.postgres.PostgresStore;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Clock;
import java.time.Duration;

/**
 * One incarnation of the host under test: PostgreSQL store, the given blob store, the executor
 * engine, the harness consumer. Retention windows are seconds instead of days so GC, purge and
 * restore all happen within a run.
 */
final class Plane implements AutoCloseable {

  static final DeployOptions OPTIONS =
      DeployOptions.builder()
          .keepLatest(2)
          .grace(Duration.ofSeconds(2))
          .retention(Duration.ofSeconds(4))
          .releasedAliasTtl(Duration.ofSeconds(1))
          .recoveryWindow(Duration.ofSeconds(3))
          .lockTimeout(Duration.ofSeconds(5))
          .gcDebounce(Duration.ofMillis(200), Duration.ofSeconds(1))
          .leaseTtl(Duration.ofSeconds(5))
          .build();

  /**
   * Seconds like every other window here: a killed worker's site locks are free again after it,
   * well within the 5 s lock timeout of the next plane.
   */
  static final Duration LOCK_TTL = Duration.ofSeconds(3);

  final PostgresStore store;
  final BlobStore blobs;
  final DurableDeploy deploy;

  /**
   * Where the engine publishes its runs ({@code gc-site} started, succeeded, dead-lettered...): the
   * workload watches it to see the background GC a restore triggers.
   */
  final AsyncEventBus engineEvents = new AsyncEventBus(new SimpleMeterRegistry());

  private final HikariDataSource consumerDb;

  Plane(String jdbcUrl, String user, String password, BlobStore blobs) {
    this(jdbcUrl, user, password, blobs, Clock.systemUTC());
  }

  Plane(String jdbcUrl, String user, String password, BlobStore blobs, Clock clock) {
    this(
        PostgresStore.builder()
            .clock(clock)
            .jdbcUrl(jdbcUrl)
            .username(user)
            .password(password)
            .connectionTimeout(Duration.ofSeconds(2))
            .lockTtl(LOCK_TTL)
            .migrateOnStart(true)
            .build(),
        jdbcUrl,
        user,
        password,
        blobs,
        clock);
  }

  /** A host that hands the store its own connection pool instead of a URL. */
  static Plane onHostPool(
      javax.sql.DataSource hostPool,
      String jdbcUrl,
      String user,
      String password,
      BlobStore blobs) {
    return new Plane(
        PostgresStore.builder().dataSource(hostPool).lockTtl(LOCK_TTL).migrateOnStart(true).build(),
        jdbcUrl,
        user,
        password,
        blobs,
        Clock.systemUTC());
  }

  private Plane(
      PostgresStore store,
      String jdbcUrl,
      String user,
      String password,
      BlobStore blobs,
      Clock clock) {
    this.store = store;
    this.blobs = blobs;
    HikariConfig config = new HikariConfig();
    config.setJdbcUrl(jdbcUrl);
    config.setUsername(user);
    config.setPassword(password);
    config.setMaximumPoolSize(4);
    config.setConnectionTimeout(2_000);
    this.consumerDb = new HikariDataSource(config);
    ExecutorEngine engine = ExecutorEngine.builder().clock(clock).events(engineEvents).build();
    engine.register(Deliveries.definition(consumerDb));
    this.deploy =
        Deliveries.route(DurableDeploy.builder())
            .store(store)
            .blobStore(blobs)
            .engine(engine)
            .options(OPTIONS)
            .clock(clock)
            .build();
  }

  javax.sql.DataSource consumerDb() {
    return consumerDb;
  }

  @Override
  public void close() {
    deploy.close();
    engineEvents.close();
    consumerDb.close();
    store.close();
  }
}
