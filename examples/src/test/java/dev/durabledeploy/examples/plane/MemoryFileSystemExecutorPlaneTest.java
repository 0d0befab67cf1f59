package dev.durabledeploy.examples.plane;

import dev.durabledeploy.core.blob.FileSystemBlobStore;
import dev.durabledeploy.engine.executor.ExecutorEngine;
import dev.durabledeploy.spi.Store;
import dev.durabledeploy.spi.blob.BlobStore;
import dev.durabledeploy.spi.engine.WorkflowEngine;
import dev.durabledeploy.store.memory.InMemoryStore;
import dev.durabledeploy.testkit.MutableClock;
import dev.durabledeploy.testkit.plane.DeployPlaneContract;
import java.nio.file.Path;
import org.junit.jupiter.api.DisplayName;

/** The embedded default of the examples: everything in one process. */
@DisplayName("whole plane: in-memory store + filesystem blobs + executor engine")
class MemoryFileSystemExecutorPlaneTest extends DeployPlaneContract {

  @Override
  protected Store createStore(MutableClock clock) {
    return new InMemoryStore(clock);
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
