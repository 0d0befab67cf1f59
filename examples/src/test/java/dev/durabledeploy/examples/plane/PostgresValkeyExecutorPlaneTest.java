package dev.durabledeploy.examples.plane;

import dev.durabledeploy.core.blob.FileSystemBlobStore;
import dev.durabledeploy.engine.executor.ExecutorEngine;
import dev.durabledeploy.spi.Store;
import dev.durabledeploy.spi.blob.BlobStore;
import dev.durabledeploy.spi.engine.WorkflowEngine;
import dev.durabledeploy.store.postgres.PostgresStore;
import dev.durabledeploy.store.valkey.ValkeyStore;
import dev.durabledeploy.testkit.MutableClock;
import dev.durabledeploy.testkit.fixtures.PostgresExtension;
import dev.durabledeploy.testkit.fixtures.ValkeyExtension;
import dev.durabledeploy.testkit.plane.DeployPlaneContract;
import java.nio.file.Path;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The wiring for hosts that run both: durable state and its outbox in PostgreSQL, coordination and
 * a cross-host metadata cache in Valkey.
 */
@DisplayName(
    "whole plane: PostgreSQL (metadata, outbox) + Valkey (locks, leases, cache) + filesystem blobs"
        + " + executor engine")
class PostgresValkeyExecutorPlaneTest extends DeployPlaneContract {

  @RegisterExtension static final PostgresExtension PG = new PostgresExtension();
  @RegisterExtension static final ValkeyExtension VALKEY = new ValkeyExtension();

  @Override
  protected Store createStore(MutableClock clock) {
    PostgresStore pg = Planes.postgres(PG, clock);
    ValkeyStore valkey = Planes.valkey(VALKEY, clock);
    return Store.of(
        valkey.cached(pg.metadata()),
        pg.outbox(),
        valkey.siteLocks(),
        valkey.jobLeases(),
        valkey,
        pg);
  }

  @Override
  protected BlobStore createBlobStore(MutableClock clock, Path root) {
    return new FileSystemBlobStore(root);
  }

  @Override
  protected WorkflowEngine createEngine(MutableClock clock) {
    return ExecutorEngine.builder().clock(clock).build();
  }
}
