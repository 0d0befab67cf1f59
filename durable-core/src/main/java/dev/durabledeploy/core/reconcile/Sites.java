package dev.durabledeploy.core.reconcile;

import dev.durabledeploy.core.deploy.BlobLayout;
import dev.durabledeploy.core.events.Operations.Operation;
import dev.durabledeploy.core.retry.Retrier;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.blob.BlobKey;
import dev.durabledeploy.spi.blob.BlobPage;
import dev.durabledeploy.spi.blob.BlobPrefix;
import dev.durabledeploy.spi.blob.BlobStore;
import dev.durabledeploy.spi.exception.InvalidInputException;
import dev.durabledeploy.spi.metadata.MetadataStore;
import java.util.ArrayList;
import java.util.List;

/**
 * Walks every site of the index, page by page, and every site prefix of the bucket (for the
 * registry's import too).
 */
public final class Sites {

  private Sites() {}

  /**
   * Every site the index or the bucket knows, in id order: a site whose rows are gone (purged) can
   * still hold bytes, e.g. an upload that wrote after the purge and died before withdrawing them.
   */
  public static List<SiteId> known(
      Operation op, Retrier retrier, MetadataStore metadata, BlobStore blobs, int pageSize) {
    java.util.TreeSet<SiteId> sites =
        new java.util.TreeSet<>(java.util.Comparator.comparing(SiteId::value));
    sites.addAll(all(op, retrier, metadata, pageSize));
    sites.addAll(inBucket(op, retrier, blobs));
    return new ArrayList<>(sites);
  }

  /**
   * The sites of the bucket: every site name under {@code <site>/}, {@code _trash/<site>/} or
   * {@code _trash-site/<site>/} ({@link BlobLayout#siteRoots}), so a site whose only bytes are
   * trash is found too.
   */
  static List<SiteId> inBucket(Operation op, Retrier retrier, BlobStore blobs) {
    java.util.TreeSet<SiteId> sites =
        new java.util.TreeSet<>(java.util.Comparator.comparing(SiteId::value));
    for (BlobPrefix root : BlobLayout.siteRoots()) {
      sites.addAll(under(op, retrier, blobs, root));
    }
    return new ArrayList<>(sites);
  }

  /**
   * The site names directly under {@code root}, found without listing every object: after each
   * site's first key the listing jumps past the whole site ({@code <site>/} followed by the highest
   * code point).
   */
  private static List<SiteId> under(
      Operation op, Retrier retrier, BlobStore blobs, BlobPrefix root) {
    String base = root.value();
    List<SiteId> sites = new ArrayList<>();
    BlobKey after = null;
    while (true) {
      BlobKey cursor = after;
      BlobPage page = retrier.call(op, () -> blobs.list(root, cursor, 1));
      if (page.items().isEmpty()) {
        return sites;
      }
      String key = page.items().get(0).key().value().substring(base.length());
      String first = key.substring(0, Math.max(0, key.indexOf('/')));
      if (!first.isEmpty()) {
        try {
          sites.add(SiteId.of(first));
        } catch (InvalidInputException notASite) {
          // _trash/, _trash-site/, _purging/ and anything else that is not a site id.
        }
      }
      after = BlobKey.of(base + (first.isEmpty() ? key : first) + "/\uDBFF\uDFFF");
    }
  }

  static List<SiteId> all(Operation op, Retrier retrier, MetadataStore metadata, int pageSize) {
    List<SiteId> all = new ArrayList<>();
    SiteId after = null;
    while (true) {
      SiteId cursor = after;
      List<SiteId> page = retrier.call(op, () -> metadata.listSites(cursor, pageSize));
      all.addAll(page);
      if (page.size() < pageSize) {
        return all;
      }
      after = page.get(page.size() - 1);
    }
  }
}
