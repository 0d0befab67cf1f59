package dev.durabledeploy.spi.blob;

import dev.durabledeploy.spi.Inputs;
import java.time.Instant;
import java.util.Objects;

/**
 * One stored object as a listing or a stat reports it.
 *
 * @param metadata content type and cache control; always set by {@link BlobStore#stat} and {@link
 *     BlobStore#get}, but {@code null} in listings of stores whose listing does not return them
 *     (S3's ListObjectsV2)
 * @param etag the store's opaque version tag of the object's content (S3's ETag, without quotes),
 *     or {@code null} when the store has none for it. It changes whenever the content changes;
 *     listings and stats of one store report the same tag for the same object; a store's own {@link
 *     BlobStore#movePrefix} keeps it except where the store says otherwise (S3 re-tags an object
 *     stored in parts when it copies it)
 * @param sha256 the SHA-256 of the content (64 lowercase hex digits) as the store recorded it when
 *     the object was written, or {@code null} when unknown: in listings of stores that do not
 *     return it (S3), and for objects a store could not digest before storing them (S3 multipart)
 */
public record BlobInfo(
    BlobKey key,
    long size,
    BlobMetadata metadata,
    Instant lastModified,
    String etag,
    String sha256) {

  public BlobInfo {
    Objects.requireNonNull(key, "key");
    Objects.requireNonNull(lastModified, "lastModified");
    if (size < 0) {
      throw new IllegalArgumentException("size must not be negative");
    }
    if (sha256 != null) {
      Inputs.requireSha256("sha256", sha256);
    }
  }

  /** An object without an etag or a known SHA-256. */
  public BlobInfo(BlobKey key, long size, BlobMetadata metadata, Instant lastModified) {
    this(key, size, metadata, lastModified, null, null);
  }
}
