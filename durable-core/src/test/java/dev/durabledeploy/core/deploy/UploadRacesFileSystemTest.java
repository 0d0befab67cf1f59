package dev.durabledeploy.core.deploy;

import dev.durabledeploy.core.blob.FileSystemBlobStore;
import dev.durabledeploy.spi.blob.BlobStore;
import dev.durabledeploy.testkit.MutableClock;
import java.nio.file.Path;
import org.junit.jupiter.api.DisplayName;

@DisplayName("uploads racing the end of a pending deploy, on the filesystem blob store")
class UploadRacesFileSystemTest extends UploadRaces {

  @Override
  BlobStore createBlobStore(Path dir, MutableClock clock) {
    return new FileSystemBlobStore(dir.resolve("blobs"));
  }
}
