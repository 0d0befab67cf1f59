package dev.durabledeploy.core.foreign;

import dev.durabledeploy.core.blob.FileSystemBlobStore;
import dev.durabledeploy.spi.blob.BlobKey;
import dev.durabledeploy.spi.blob.BlobMetadata;
import dev.durabledeploy.spi.blob.BlobStore;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.io.TempDir;

/**
 * The same scenarios on the filesystem store, with the foreign names a filesystem can hold (it has
 * no folder objects and no empty segments): files renamed by hand to a control character or a
 * backslash.
 */
@DisplayName("foreign keys on the filesystem store: control characters, backslashes")
class FileSystemForeignKeysTest extends ForeignKeyScenarios {

  @TempDir Path root;

  static Stream<String> kinds() {
    return Stream.of("a\u0001b.html", "new\nline.html", "back\\slash.html");
  }

  @Override
  protected BlobStore blobBackend() {
    return new FileSystemBlobStore(root.resolve("blobs"));
  }

  @Override
  protected void plant(String rawKey) {
    Path objects = root.resolve("blobs").resolve("objects");
    BlobKey staging = BlobKey.of("planting/x");
    plane
        .blobs()
        .put(staging, new ByteArrayInputStream(new byte[] {1, 2}), 2, BlobMetadata.binary());
    try {
      Path target = objects.resolve(rawKey);
      Files.createDirectories(target.getParent());
      Files.move(objects.resolve(staging.value()), target);
      Files.delete(objects.resolve("planting"));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
