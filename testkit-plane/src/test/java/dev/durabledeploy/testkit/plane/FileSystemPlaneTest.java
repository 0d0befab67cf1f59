package dev.durabledeploy.testkit.plane;

import dev.durabledeploy.core.blob.FileSystemBlobStore;
import dev.durabledeploy.spi.Store;
import dev.durabledeploy.spi.blob.BlobStore;
import dev.durabledeploy.spi.engine.WorkflowEngine;
import dev.durabledeploy.store.memory.InMemoryStore;
import dev.durabledeploy.store.memory.InMemoryWorkflowEngine;
import dev.durabledeploy.testkit.MutableClock;
import java.nio.file.Path;
import java.util.SplittableRandom;
import org.junit.jupiter.api.DisplayName;

@DisplayName("whole plane: in-memory store + filesystem blobs + in-memory engine")
class FileSystemPlaneTest extends DeployPlaneContract {

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
    return new InMemoryWorkflowEngine(clock, new SplittableRandom(23));
  }
}
