package dev.durabledeploy.core.blob;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.durabledeploy.spi.InvalidInputException;
import dev.durabledeploy.spi.blob.BlobKey;
import dev.durabledeploy.spi.blob.BlobMetadata;
import dev.durabledeploy.spi.blob.BlobPrefix;
import dev.durabledeploy.spi.blob.BlobStore;
import dev.durabledeploy.testkit.MutableClock;
import dev.durabledeploy.testkit.tck.BlobStoreContract;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FileSystemBlobStoreTest extends BlobStoreContract {

  @TempDir Path root;

  @Override
  protected BlobStore createBlobStore(MutableClock clock) {
    return new FileSystemBlobStore(root.resolve("store"));
  }

  @Test
  @DisplayName("no key of the traversal corpus can even be constructed, so none reaches the disk")
  void traversalCorpus() {
    for (String bad :
        List.of("../x", "a/../../x", "/etc/passwd", "..\\x", "a/./b", "C:/x", "a\u0000b", "a//b")) {
      assertThatThrownBy(() -> BlobKey.of(bad)).isInstanceOf(InvalidInputException.class);
    }
    assertThat(root.resolve("x")).doesNotExist();
  }

  @Test
  @DisplayName("a symbolic link leading out of the root is refused")
  void symlinkEscape() throws IOException {
    Path outside = Files.createDirectories(root.resolve("outside"));
    Path objects = root.resolve("store").resolve("objects");
    Files.createSymbolicLink(objects.resolve("evil"), outside);
    assertThatThrownBy(
            () -> blobs.put(BlobKey.of("evil/x"), new ByteArrayInputStream(new byte[1]), 1, HTML))
        .isInstanceOf(InvalidInputException.class)
        .hasMessageContaining("outside");
    try (Stream<Path> files = Files.list(outside)) {
      assertThat(files).isEmpty();
    }
  }

  @Test
  @DisplayName("a key that is also the prefix of another object is refused clearly")
  void fileAndPrefixConflict() {
    put("a/b", "x");
    assertThatThrownBy(() -> put("a/b/c", "y")).isInstanceOf(InvalidInputException.class);
    put("d/e/f", "x");
    assertThatThrownBy(() -> put("d/e", "y")).isInstanceOf(InvalidInputException.class);
  }

  @Test
  @DisplayName("a failed put leaves neither a partial object nor a temp file behind")
  void noLeftovers() throws IOException {
    BlobKey key = BlobKey.of("a/x");
    assertThatThrownBy(
            () -> blobs.put(key, new ByteArrayInputStream(new byte[2]), 10, BlobMetadata.binary()))
        .isInstanceOf(InvalidInputException.class);
    try (Stream<Path> temps = Files.list(root.resolve("store").resolve("tmp"))) {
      assertThat(temps).isEmpty();
    }
    assertThat(blobs.stat(key)).isEmpty();
    assertThat(blobs.listAll(BlobPrefix.ROOT)).isEmpty();
  }

  @Test
  @DisplayName("a file not written by the store is reported, not misread")
  void foreignFile() throws IOException {
    Path objects = root.resolve("store").resolve("objects");
    Files.writeString(objects.resolve("foreign"), "hello");
    assertThatThrownBy(() -> blobs.stat(BlobKey.of("foreign")))
        .isInstanceOf(UncheckedIOException.class)
        .hasMessageContaining("foreign");
  }
}
