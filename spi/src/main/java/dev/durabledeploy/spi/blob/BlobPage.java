package dev.durabledeploy.spi.blob;

import java.util.List;
import java.util.Optional;

/**
 * One page of a prefix listing, in {@link BlobKey#UTF8_ORDER}.
 *
 * @param items the objects of this page
 * @param next the key to pass as {@code startAfter} for the next page, or {@code null} on the last
 *     page
 * @param foreign the objects under keys that are not valid {@link BlobKey}s, found after the page's
 *     {@code startAfter} and, unless this is the last page, before {@link #next}: so walking the
 *     pages reports each once. Never part of {@link #items}; empty for most pages.
 */
public record BlobPage(List<BlobInfo> items, BlobKey next, List<ForeignBlob> foreign) {

  public BlobPage {
    items = List.copyOf(items);
    foreign = foreign == null ? List.of() : List.copyOf(foreign);
  }

  /** A page without foreign objects. */
  public BlobPage(List<BlobInfo> items, BlobKey next) {
    this(items, next, List.of());
  }

  /** The continuation key, empty on the last page. */
  public Optional<BlobKey> nextStartAfter() {
    return Optional.ofNullable(next);
  }
}
