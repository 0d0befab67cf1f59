package dev.durabledeploy.spi.metadata;

import dev.durabledeploy.spi.DeployId;
import java.util.List;

/**
 * The rows a unit of work reads ({@link MetadataStore#inSite}): these deploys and tombstones, or
 * the whole site. Every alias row of the site and the deploys the aliases target always come along.
 * A store that holds everything in memory may ignore it; a store that reads rows one by one reads
 * only these.
 *
 * @param deploys live deploys the work may look up with {@link SiteRows#deploy}
 * @param tombstones tombstones the work may look up with {@link SiteRows#tombstone}
 * @param wholeSite every deploy, alias and tombstone (a site deletion), so the counts are exact
 */
public record RowSelection(List<DeployId> deploys, List<DeployId> tombstones, boolean wholeSite) {

  /** Every deploy, alias and tombstone of the site. */
  public static final RowSelection WHOLE_SITE = new RowSelection(List.of(), List.of(), true);

  public RowSelection {
    deploys = List.copyOf(deploys);
    tombstones = List.copyOf(tombstones);
  }

  /** These deploys and tombstones, with every alias. */
  public static RowSelection of(List<DeployId> deploys, List<DeployId> tombstones) {
    return new RowSelection(deploys, tombstones, false);
  }
}
