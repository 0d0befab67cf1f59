package dev.durabledeploy.core.reconcile;

import dev.durabledeploy.core.events.Operations.Operation;
import dev.durabledeploy.core.retry.Retrier;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.metadata.MetadataStore;
import java.util.ArrayList;
import java.util.List;

/** Walks every site of the index, page by page. */
final class Sites {

  private Sites() {}

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
