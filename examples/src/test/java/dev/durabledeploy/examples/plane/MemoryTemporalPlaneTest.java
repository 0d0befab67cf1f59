package dev.durabledeploy.examples.plane;

import dev.durabledeploy.engine.temporal.TemporalEngine;
import dev.durabledeploy.spi.Store;
import dev.durabledeploy.spi.blob.BlobStore;
import dev.durabledeploy.spi.engine.WorkflowEngine;
import dev.durabledeploy.store.memory.InMemoryBlobStore;
import dev.durabledeploy.store.memory.InMemoryStore;
import dev.durabledeploy.testkit.MutableClock;
import dev.durabledeploy.testkit.plane.DeployPlaneContract;
import io.temporal.testing.TestEnvironmentOptions;
import io.temporal.testing.TestWorkflowEnvironment;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;

/**
 * The engine for hosts that run many instances, on Temporal's in-process test server, one per test
 * (a second engine on a server an earlier engine used took the shutdown deadlines of relay and
 * engine, 60 s, to stop).
 */
@DisplayName("whole plane: in-memory store + in-memory blobs + Temporal engine")
class MemoryTemporalPlaneTest extends DeployPlaneContract {

  private TestWorkflowEnvironment env;

  // Runs after the contract's test closed the plane, which stopped the engine.
  @AfterEach
  void stopServer() {
    if (env != null) {
      env.close();
    }
  }

  @Override
  protected Store createStore(MutableClock clock) {
    return new InMemoryStore(clock);
  }

  @Override
  protected BlobStore createBlobStore(MutableClock clock, Path root) {
    return new InMemoryBlobStore(clock);
  }

  @Override
  protected WorkflowEngine createEngine(MutableClock clock) {
    env =
        TestWorkflowEnvironment.newInstance(
            TestEnvironmentOptions.newBuilder().setUseTimeskipping(false).build());
    return TemporalEngine.builder().client(env.getWorkflowClient()).taskQueue("plane").build();
  }
}
