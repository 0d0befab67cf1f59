package dev.durabledeploy.core.reconcile;

import dev.durabledeploy.core.alias.ProjectedAliases;
import dev.durabledeploy.core.deploy.BlobLayout;
import dev.durabledeploy.core.deploy.Marker;
import dev.durabledeploy.core.events.Operations;
import dev.durabledeploy.core.events.Operations.Operation;
import dev.durabledeploy.core.metadata.MetadataCommands;
import dev.durabledeploy.core.purge.SitePurge;
import dev.durabledeploy.core.retry.Retrier;
import dev.durabledeploy.spi.Actions;
import dev.durabledeploy.spi.Actor;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.Store;
import dev.durabledeploy.spi.blob.BlobContent;
import dev.durabledeploy.spi.blob.BlobKey;
import dev.durabledeploy.spi.blob.BlobStore;
import dev.durabledeploy.spi.exception.DeployNotFoundException;
import dev.durabledeploy.spi.exception.DeployStateException;
import dev.durabledeploy.spi.lock.SiteLock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Adopts an existing bucket: builds index rows from marked deploy prefixes, then alias rows from
 * the alias projection objects ({@link ProjectedAliases}), so the GC the adoption triggers sees the
 * aliases a serve plane is serving. Never overwrites a deploy row or tombstone; an alias row is
 * restored through {@link MetadataCommands#restoreAlias}, only where it is missing or older than
 * its projection (never backwards). A projection that cannot be read, or that points at a deploy
 * neither the index nor a marked prefix has, is reported in {@link Report#unrestoredAliases()} and
 * changes nothing; a projection of a deleted alias is skipped (nothing to serve or protect).
 * Unmarked prefixes (unfinished uploads) are left for the reconciler, and so is a site whose purge
 * is unfinished. Each site is backfilled under its lock (E1), so a GC of the site cannot run
 * between its deploys' adoption and its aliases' restoration.
 *
 * <p>Each call asks the authorizer for {@link Actions#BACKFILL_RUN} first (for the site, or across
 * all sites for {@link #all}), as the actor of the view ({@link #as}; {@code system:backfill}
 * without one), and records that actor on the rows it adopts.
 */
public final class Backfill {

  private static final Actor BACKFILL = Actor.of("system:backfill");

  /**
   * What a backfill did.
   *
   * @param aliasesRestored alias rows written from their projection
   * @param aliasesIndexed projections whose alias row was already at that version or a newer one
   * @param unrestoredAliases projections that were not restored, each with the reason
   */
  public record Report(
      int sites,
      int adopted,
      int alreadyIndexed,
      int unmarked,
      int unreadableMarkers,
      int aliasesRestored,
      int aliasesIndexed,
      List<UnrestoredAlias> unrestoredAliases) {

    public Report {
      unrestoredAliases = List.copyOf(unrestoredAliases);
    }

    private static Report empty() {
      return new Report(1, 0, 0, 0, 0, 0, 0, List.of());
    }

    private Report plus(Report r) {
      List<UnrestoredAlias> unrestored = new ArrayList<>(unrestoredAliases);
      unrestored.addAll(r.unrestoredAliases);
      return new Report(
          sites + r.sites,
          adopted + r.adopted,
          alreadyIndexed + r.alreadyIndexed,
          unmarked + r.unmarked,
          unreadableMarkers + r.unreadableMarkers,
          aliasesRestored + r.aliasesRestored,
          aliasesIndexed + r.aliasesIndexed,
          unrestored);
    }
  }

  /**
   * An alias projection object backfill did not restore an alias row from.
   *
   * @param projection the object's key
   * @param reason why, e.g. that it is not JSON or points at a deploy the bucket does not have
   */
  public record UnrestoredAlias(String projection, String reason) {}

  private final Store store;
  private final MetadataCommands commands;
  private final BlobStore blobs;
  private final Operations operations;
  private final Retrier retrier;
  private final Duration lockTimeout;
  private final SitePurge sitePurge;
  private final Actor actor;

  public Backfill(
      Store store, BlobStore blobs, Operations operations, Retrier retrier, Duration lockTimeout) {
    this.store = store;
    this.commands = new MetadataCommands(store.metadata());
    this.blobs = blobs;
    this.operations = operations;
    this.retrier = retrier;
    this.lockTimeout = lockTimeout;
    this.sitePurge = new SitePurge(store.metadata(), blobs, retrier, operations.clock());
    this.actor = BACKFILL;
  }

  private Backfill(Backfill base, Actor actor) {
    this.store = base.store;
    this.commands = base.commands;
    this.blobs = base.blobs;
    this.operations = base.operations;
    this.retrier = base.retrier;
    this.lockTimeout = base.lockTimeout;
    this.sitePurge = base.sitePurge;
    this.actor = actor;
  }

  /** The same backfill, asking the authorizer about {@code actor} and recording it. */
  public Backfill as(Actor actor) {
    return new Backfill(this, java.util.Objects.requireNonNull(actor, "actor"));
  }

  /** Backfills one site. */
  public Report site(SiteId site) {
    java.util.Objects.requireNonNull(site, "site");
    operations.authorize(actor, site, Actions.BACKFILL_RUN);
    return operations.run("backfill", site, op -> backfill(op, site));
  }

  /** Backfills every site found in the bucket. */
  public Report all() {
    operations.authorize(actor, null, Actions.BACKFILL_RUN);
    return operations.run(
        "backfill",
        null,
        op -> {
          Report total = new Report(0, 0, 0, 0, 0, 0, 0, List.of());
          for (SiteId site : bucketSites(op)) {
            total = total.plus(backfill(op, site));
          }
          return total;
        });
  }

  private Report backfill(Operation op, SiteId site) {
    // Lock: the site lock (E1), so no GC (nor any other saga) of the site runs between the
    // adoption of its deploys and the restoration of the aliases that protect them.
    try (SiteLock lock = op.lockSite(store.siteLocks(), site, lockTimeout)) {
      return backfillLocked(op, site);
    }
  }

  /** Backfills one site within {@code op}, whose caller holds the site's lock (the reconciler). */
  Report backfillLocked(Operation op, SiteId site) {
    var record = retrier.call(op, () -> store.metadata().findSite(site));
    if (record.isPresent() && !record.get().isActive()) {
      // A trashed site's rows are kept whole for its restore (bytes still under <site>/ are a
      // trash the reconciler finishes); a purging one is going away.
      return Report.empty();
    }
    if (sitePurge.pending(op, site)) {
      // A purge that has deleted the rows and not yet the bytes: adopting them would bring back
      // a site someone asked to remove. Whoever finishes the purge removes the bytes.
      return Report.empty();
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
              .call(op, () -> commands.adopt(site, id, marker.sha(), marker.finalizedAt(), actor))
              .isPresent();
      if (added) {
        adopted++;
      } else {
        indexed++;
      }
    }
    Report aliases = restoreAliases(op, site);
    return new Report(
        1,
        adopted,
        indexed,
        unmarked,
        unreadable,
        aliases.aliasesRestored(),
        aliases.aliasesIndexed(),
        aliases.unrestoredAliases());
  }

  /** Restores the site's alias rows from its projection objects, after its deploys' adoption. */
  private Report restoreAliases(Operation op, SiteId site) {
    ProjectedAliases.Listing listing = retrier.call(op, () -> ProjectedAliases.read(blobs, site));
    List<UnrestoredAlias> unrestored = new ArrayList<>();
    listing.unreadable().forEach(u -> unrestored.add(new UnrestoredAlias(u.key(), u.reason())));
    int restored = 0;
    int indexed = 0;
    for (ProjectedAliases.Entry entry : listing.entries()) {
      if (entry.target() == null) {
        continue; // a deleted alias: no row to restore, no deploy to protect
      }
      try {
        boolean written =
            retrier
                .call(
                    op,
                    () ->
                        commands.restoreAlias(
                            site, entry.alias(), entry.target(), entry.version(), actor))
                .isPresent();
        if (written) {
          restored++;
        } else {
          indexed++;
        }
      } catch (DeployNotFoundException missing) {
        unrestored.add(
            new UnrestoredAlias(
                entry.key().value(),
                "points at deploy '"
                    + entry.target()
                    + "', which neither the index nor a marked prefix of the bucket has"));
      } catch (DeployStateException notFinalized) {
        unrestored.add(
            new UnrestoredAlias(
                entry.key().value(),
                "points at deploy '"
                    + entry.target()
                    + "', which is "
                    + notFinalized.state()
                    + ", not finalized"));
      }
    }
    return new Report(0, 0, 0, 0, 0, restored, indexed, unrestored);
  }

  /**
   * Adopts one marked prefix from its marker; returns false when the marker is unreadable or a row
   * or tombstone with this id exists.
   */
  boolean adopt(Operation op, SiteId site, DeployId id, Actor actor) {
    Marker marker = readMarker(op, site, id);
    return marker != null
        && retrier
            .call(op, () -> commands.adopt(site, id, marker.sha(), marker.finalizedAt(), actor))
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
