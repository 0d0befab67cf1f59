package dev.durabledeploy.spi.blob;

import java.util.List;
import java.util.Optional;

/**
 * One page of a prefix listing, in {@link BlobKey#UTF8_ORDER}.
 *
 * @param items the objects of this page
 * @param next the key to pass as {@code startAfter} for the next page, or {@code null} on the last
 *     page
 */
public record BlobPage(List<BlobInfo> items, BlobKey next) {

  public BlobPage {
    items = List.copyOf(items);
  }

  /** The continuation key, empty on the last page. */
  public Optional<BlobKey> nextStartAfter() {
    return Optional.ofNullable(next);
  }
}
