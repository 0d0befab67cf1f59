package dev.durabledeploy.spi.blob;

import dev.durabledeploy.spi.Inputs;
import dev.durabledeploy.spi.exception.InvalidInputException;

/**
 * A "directory" of a blob store: either the empty root or a valid key path that ends in {@code /},
 * e.g. {@code site-a/deploys/20260101-000000-abcdef0/}. Listing, deleting and moving work on
 * prefixes so that {@code site-a/} can never match {@code site-ab/...}.
 */
public record BlobPrefix(String value) {

  /** The whole store. */
  public static final BlobPrefix ROOT = new BlobPrefix("");

  public BlobPrefix {
    if (value == null) {
      throw new InvalidInputException("prefix", "is required");
    }
    if (!value.isEmpty()) {
      Inputs.requireRelativePath("prefix", value, BlobKey.MAX_BYTES, true);
      if (!value.endsWith("/")) {
        throw new InvalidInputException("prefix", Inputs.render(value) + " must end with '/'");
      }
    }
  }

  /** The prefix made of the given segments, each validated, joined and ended by {@code /}. */
  public static BlobPrefix of(String... segments) {
    return new BlobPrefix(String.join("/", segments) + "/");
  }

  /** The key of {@code relative} under this prefix. */
  public BlobKey resolve(String relative) {
    return new BlobKey(value + relative);
  }

  /** The prefix {@code relative/} under this prefix. */
  public BlobPrefix child(String relative) {
    return new BlobPrefix(value + relative + "/");
  }

  /** Whether either prefix contains the other (moving between them would be ambiguous). */
  public boolean overlaps(BlobPrefix other) {
    return value.startsWith(other.value) || other.value.startsWith(value);
  }

  @Override
  public String toString() {
    return value;
  }
}
