package dev.durabledeploy.examples.hostile;

import dev.durabledeploy.blob.s3.S3BlobStore;
import dev.durabledeploy.core.blob.FileSystemBlobStore;
import dev.durabledeploy.core.deploy.BlobLayout;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.blob.BlobContent;
import dev.durabledeploy.spi.blob.BlobStore;
import dev.durabledeploy.store.memory.InMemoryBlobStore;
import dev.durabledeploy.testkit.MutableClock;
import dev.durabledeploy.testkit.fixtures.S3Extension;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Optional;
import java.util.function.BiFunction;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;

/** The three blob stores, each a fresh empty one, and small byte helpers. */
final class Blobs {

  private Blobs() {}

  /** A named factory: (dir, clock) -> a fresh store. */
  record Kind(String name, BiFunction<Path, MutableClock, BlobStore> factory) {
    BlobStore create(Path dir, MutableClock clock) {
      return factory.apply(dir, clock);
    }

    @Override
    public String toString() {
      return name;
    }
  }

  static Kind memory() {
    return new Kind("memory", (dir, clock) -> new InMemoryBlobStore(clock));
  }

  static Kind filesystem() {
    return new Kind(
        "filesystem",
        (dir, clock) -> new FileSystemBlobStore(dir.resolve("blobs-" + System.nanoTime())));
  }

  static Kind s3(S3Extension s3) {
    return new Kind("s3", (dir, clock) -> s3Builder(s3).build());
  }

  static S3BlobStore.Builder s3Builder(S3Extension s3) {
    return S3BlobStore.builder()
        .bucket(s3.newBucket())
        .endpoint(s3.endpoint())
        .region(s3.region())
        .pathStyle(true)
        .credentials(
            StaticCredentialsProvider.create(
                AwsBasicCredentials.create(s3.accessKey(), s3.secretKey())));
  }

  static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  static String sha256(byte[] b) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  /** What the bucket holds for the deploy's path (what a serve plane would serve), if anything. */
  static Optional<String> served(BlobStore blobs, SiteId site, DeployId id, String path) {
    Optional<BlobContent> c = blobs.get(BlobLayout.deploy(site, id).resolve(path));
    if (c.isEmpty()) {
      return Optional.empty();
    }
    try (BlobContent content = c.get()) {
      return Optional.of(new String(content.readAllBytes(), StandardCharsets.UTF_8));
    }
  }
}
