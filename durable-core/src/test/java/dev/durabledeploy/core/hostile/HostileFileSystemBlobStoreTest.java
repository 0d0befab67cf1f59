package dev.durabledeploy.core.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import dev.durabledeploy.core.blob.FileSystemBlobStore;
import dev.durabledeploy.spi.blob.BlobKey;
import dev.durabledeploy.spi.blob.BlobMetadata;
import dev.durabledeploy.spi.blob.BlobPrefix;
import dev.durabledeploy.testkit.GatedInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** "No operation follows a symbolic link below the root": links at the store's own directories. */
@DisplayName("hostile: FileSystemBlobStore with links planted at its own top-level directories")
class HostileFileSystemBlobStoreTest {

  @TempDir Path dir;

  private static List<Path> files(Path d) throws Exception {
    try (Stream<Path> s = Files.walk(d)) {
      return s.filter(Files::isRegularFile).toList();
    }
  }

  // BREAKS: the link check starts below root/objects, so a link planted AS root/objects is followed: deletePrefix deletes files outside the root
  @Test
  @DisplayName("objects/ replaced by a link: deletePrefix deletes nothing outside the root")
  void objectsIsALink() throws Exception {
    Path root = dir.resolve("store");
    FileSystemBlobStore blobs = new FileSystemBlobStore(root);
    Path outside = Files.createDirectories(dir.resolve("outside"));
    Path victim = outside.resolve("site-a/deploys/20240101-000000-aaaaaaa/index.html");
    Files.createDirectories(victim.getParent());
    Files.writeString(victim, "not the store's");
    Path objects = root.resolve("objects");
    Files.delete(objects);
    Files.createSymbolicLink(objects, outside);
    try {
      blobs.deletePrefix(BlobPrefix.of("site-a"));
    } catch (RuntimeException refused) {
      // Refusing is fine.
    }
    assertThat(victim).as("a file outside the root").exists();
  }

  // BREAKS: tmp/ is never checked for a link: with root/tmp replaced by a link, every upload's bytes are written outside the root while the put runs
  @Test
  @DisplayName("tmp/ replaced by a link: an upload writes nothing outside the root")
  void tmpIsALink() throws Exception {
    Path root = dir.resolve("store");
    FileSystemBlobStore blobs = new FileSystemBlobStore(root);
    Path outside = Files.createDirectories(dir.resolve("outside"));
    Path tmp = root.resolve("tmp");
    Files.delete(tmp);
    Files.createSymbolicLink(tmp, outside);
    byte[] body = "tenant bytes".getBytes(StandardCharsets.UTF_8);
    GatedInputStream in = new GatedInputStream(body);
    CompletableFuture<Object> put =
        CompletableFuture.supplyAsync(
            () ->
                blobs.put(
                    BlobKey.of("site-a/deploys/20240101-000000-aaaaaaa/index.html"),
                    in,
                    body.length,
                    BlobMetadata.ofType("text/html")));
    in.awaitReading(Duration.ofSeconds(30));
    List<Path> written = files(outside);
    in.open();
    try {
      put.get(30, TimeUnit.SECONDS);
    } catch (Exception refused) {
      // Refusing is fine.
    }
    assertThat(written).as("files written outside the root during the put").isEmpty();
  }
}
