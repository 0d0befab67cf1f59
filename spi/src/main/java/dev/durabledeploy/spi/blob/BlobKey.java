package dev.durabledeploy.spi.blob;

import dev.durabledeploy.spi.Inputs;
import dev.durabledeploy.spi.exception.InvalidInputException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Optional;

/**
 * The key of one object in a blob store: a relative slash-separated path of at most 1,024 UTF-8
 * bytes (the S3 limit) that can never escape the store's root (see {@link
 * Inputs#requireRelativePath}).
 */
public record BlobKey(String value) implements Comparable<BlobKey> {

  public static final int MAX_BYTES = 1024;

  /**
   * The order every blob listing uses: by the keys' UTF-8 bytes, unsigned, which is S3's order and
   * differs from {@link String#compareTo} for characters outside the Basic Multilingual Plane.
   */
  public static final Comparator<String> UTF8_ORDER =
      (a, b) ->
          Arrays.compareUnsigned(
              a.getBytes(StandardCharsets.UTF_8), b.getBytes(StandardCharsets.UTF_8));

  public BlobKey {
    Inputs.requireRelativePath("key", value, MAX_BYTES, false);
  }

  public static BlobKey of(String value) {
    return new BlobKey(value);
  }

  /**
   * The key, or empty when {@code value} is not a valid key: for a store that classifies the raw
   * keys of a listing (a key written by something else becomes a {@link ForeignBlob}).
   */
  public static Optional<BlobKey> parse(String value) {
    try {
      return Optional.of(new BlobKey(value));
    } catch (InvalidInputException notAKey) {
      return Optional.empty();
    }
  }

  /** Whether this key lies under {@code prefix}. */
  public boolean isUnder(BlobPrefix prefix) {
    return value.startsWith(prefix.value());
  }

  /** The part of the key after {@code prefix}; the key must lie under it. */
  public String relativeTo(BlobPrefix prefix) {
    if (!isUnder(prefix)) {
      throw new IllegalArgumentException(this + " is not under " + prefix);
    }
    return value.substring(prefix.value().length());
  }

  @Override
  public int compareTo(BlobKey other) {
    return UTF8_ORDER.compare(value, other.value);
  }

  @Override
  public String toString() {
    return value;
  }
}
