package dev.durabledeploy.spi.blob;

import java.time.Instant;
import java.util.Objects;

/**
 * One stored object as a listing or a stat reports it.
 *
 * @param metadata content type and cache control; always set by {@link BlobStore#stat} and {@link
 *     BlobStore#get}, but {@code null} in listings of stores whose listing does not return them
 *     (S3's ListObjectsV2)
 */
public record BlobInfo(BlobKey key, long size, BlobMetadata metadata, Instant lastModified) {

  public BlobInfo {
    Objects.requireNonNull(key, "key");
    Objects.requireNonNull(lastModified, "lastModified");
    if (size < 0) {
      throw new IllegalArgumentException("size must not be negative");
    }
  }
}
