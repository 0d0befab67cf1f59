package dev.durabledeploy.spi.blob;

import java.time.Instant;
import java.util.Objects;

/** One stored object as a listing or a stat reports it. */
public record BlobInfo(BlobKey key, long size, BlobMetadata metadata, Instant lastModified) {

  public BlobInfo {
    Objects.requireNonNull(key, "key");
    Objects.requireNonNull(metadata, "metadata");
    Objects.requireNonNull(lastModified, "lastModified");
    if (size < 0) {
      throw new IllegalArgumentException("size must not be negative");
    }
  }
}
