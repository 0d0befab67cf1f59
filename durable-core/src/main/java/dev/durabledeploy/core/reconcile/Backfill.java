package dev.durabledeploy.core.reconcile;

import dev.durabledeploy.core.deploy.BlobLayout;
import dev.durabledeploy.core.deploy.Marker;
import dev.durabledeploy.core.events.Operations;
import dev.durabledeploy.core.events.Operations.Operation;
import dev.durabledeploy.core.metadata.MetadataCommands;
import dev.durabledeploy.core.purge.SitePurge;
import dev.durabledeploy.core.retry.Retrier;
import dev.durabledeploy.spi.Actor;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.blob.BlobContent;
import dev.durabledeploy.spi.blob.BlobKey;
import dev.durabledeploy.spi.blob.BlobStore;
import dev.durabledeploy.spi.metadata.MetadataStore;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Adopts an existing bucket: builds index rows from marked deploy prefixes. Never overwrites a row
 * or tombstone, never writes an alias; unmarked prefixes (unfinished uploads) are left for the
 * reconciler, and so is a site whose purge is unfinished.
 */
public final class Backfill {

  private static final Actor BACKFILL = Actor.of("system:backfill");

  /** What a backfill did. */
  public record Report(
      int sites, int adopted, int alreadyIndexed, int unmarked, int unreadableMarkers) {}

  private final MetadataStore metadata;
  private final MetadataCommands commands;
  private final BlobStore blobs;
  private final Operations operations;
  private final Retrier retrier;
  private final SitePurge sitePurge;

  public Backfill(MetadataStore metadata, BlobStore blobs, Operations operations, Retrier retrier) {
    this.metadata = metadata;
    this.commands = new MetadataCommands(metadata);
    this.blobs = blobs;
    this.operations = operations;
    this.retrier = retrier;
    this.sitePurge = new SitePurge(metadata, blobs, retrier, operations.clock());
  }

  /** Backfills one site. */
  public Report site(SiteId site) {
    return operations.run("backfill", site, op -> backfill(op, site));
  }

  /** Backfills every site found in the bucket. */
  public Report all() {
    return operations.run(
        "backfill",
        null,
        op -> {
          int sites = 0;
          int adopted = 0;
          int indexed = 0;
          int unmarked = 0;
          int unreadable = 0;
          for (SiteId site : bucketSites(op)) {
            Report r = backfill(op, site);
            sites++;
            adopted += r.adopted();
            indexed += r.alreadyIndexed();
            unmarked += r.unmarked();
            unreadable += r.unreadableMarkers();
          }
          return new Report(sites, adopted, indexed, unmarked, unreadable);
        });
  }

  /** Backfills one site within {@code op} (the reconciler's, under the site lock). */
  Report backfill(Operation op, SiteId site) {
    if (sitePurge.pending(op, site)) {
      // A purge that has deleted the rows and not yet the bytes: adopting them would bring back a
      // site someone asked to remove. Whoever finishes the purge removes the bytes.
      return new Report(1, 0, 0, 0, 0);
    }
    BucketView bucket = retrier.call(op, () -> BucketView.read(blobs, site));
    int adopted = 0;
    int indexed = 0;
    int unmarked = 0;
    int unreadable = 0;
    for (Map.Entry<DeployId, Boolean> prefix : bucket.deploys().entrySet()) {
      DeployId id = prefix.getKey();
      if (!prefix.getValue()) {
        unmarked++;
        continue;
      }
      Marker marker = readMarker(op, site, id);
      if (marker == null) {
        unreadable++;
        continue;
      }
      boolean added =
          retrier
              .call(
                  op, () -> commands.adopt(site, id, marker.sha(), marker.finalizedAt(), BACKFILL))
              .isPresent();
      if (added) {
        adopted++;
      } else {
        indexed++;
      }
    }
    return new Report(1, adopted, indexed, unmarked, unreadable);
  }

  /**
   * Adopts one marked prefix from its marker; returns false when the marker is unreadable or a row
   * or tombstone with this id exists.
   */
  boolean adopt(Operation op, SiteId site, DeployId id) {
    Marker marker = readMarker(op, site, id);
    return marker != null
        && retrier
            .call(op, () -> commands.adopt(site, id, marker.sha(), marker.finalizedAt(), BACKFILL))
            .isPresent();
  }

  private Marker readMarker(Operation op, SiteId site, DeployId id) {
    return readMarker(op, site, id, BlobLayout.marker(site, id));
  }

  /**
   * The marker at {@code key} (a deploy's, or one moved to trash with its bytes) when it is
   * readable and names this site and deploy, else {@code null}.
   */
  Marker readMarker(Operation op, SiteId site, DeployId id, BlobKey key) {
    Optional<BlobContent> content = retrier.call(op, () -> blobs.get(key));
    if (content.isEmpty()) {
      return null;
    }
    try (BlobContent c = content.get()) {
      Marker marker = Marker.parse(c.readAllBytes());
      return marker.deployId().equals(id.value()) && marker.site().equals(site.value())
          ? marker
          : null;
    } catch (IllegalArgumentException unreadable) {
      return null;
    }
  }

  private List<SiteId> bucketSites(Operation op) {
    return Sites.inBucket(op, retrier, blobs);
  }
}
