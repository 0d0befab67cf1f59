package dev.durabledeploy.core.deploy;

import dev.durabledeploy.spi.blob.BlobStore;
import dev.durabledeploy.store.memory.InMemoryBlobStore;
import dev.durabledeploy.testkit.MutableClock;
import java.nio.file.Path;
import org.junit.jupiter.api.DisplayName;

@DisplayName("uploads racing the end of a pending deploy, on the in-memory blob store")
class UploadRacesInMemoryTest extends UploadRaces {

  @Override
  BlobStore createBlobStore(Path dir, MutableClock clock) {
    return new InMemoryBlobStore(clock);
  }
}
