package dev.durabledeploy.examples.plane;

import dev.durabledeploy.core.blob.FileSystemBlobStore;
import dev.durabledeploy.engine.executor.ExecutorEngine;
import dev.durabledeploy.spi.Store;
import dev.durabledeploy.spi.blob.BlobStore;
import dev.durabledeploy.spi.engine.WorkflowEngine;
import dev.durabledeploy.testkit.MutableClock;
import dev.durabledeploy.testkit.fixtures.ValkeyExtension;
import dev.durabledeploy.testkit.plane.DeployPlaneContract;
import java.nio.file.Path;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.extension.RegisterExtension;

@DisplayName("whole plane: Valkey store (everything) + filesystem blobs + executor engine")
class ValkeyExecutorPlaneTest extends DeployPlaneContract {

  @RegisterExtension static final ValkeyExtension VALKEY = new ValkeyExtension();

  @Override
  protected Store createStore(MutableClock clock) {
    return Planes.valkey(VALKEY, clock);
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
