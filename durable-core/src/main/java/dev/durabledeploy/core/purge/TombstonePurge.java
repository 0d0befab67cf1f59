package dev.durabledeploy.core.purge;

import dev.durabledeploy.core.DeployOptions;
import dev.durabledeploy.core.deploy.BlobLayout;
import dev.durabledeploy.core.events.Operations;
import dev.durabledeploy.core.events.Operations.Operation;
import dev.durabledeploy.core.metadata.MetadataCommands;
import dev.durabledeploy.core.retry.Retrier;
import dev.durabledeploy.spi.Actions;
import dev.durabledeploy.spi.Actor;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.Store;
import dev.durabledeploy.spi.blob.BlobStore;
import dev.durabledeploy.spi.engine.WorkflowDefinition;
import dev.durabledeploy.spi.lock.SiteLock;
import dev.durabledeploy.spi.metadata.Site;
import dev.durabledeploy.spi.metadata.SiteState;
import dev.durabledeploy.spi.metadata.Tombstone;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Workflow {@code tombstone-purge} (cron): hard-deletes tombstones whose recovery window closed —
 * their trash bytes first, then the row (V6), so a crash in between leaves a tombstone the next run
 * finishes. Works in batches; after three consecutive failed batches it aborts naming the batch.
 * Each run then finishes every site purge that a crash interrupted ({@link SitePurge}), and deletes
 * for good every trashed site whose recovery window has closed ({@link SiteTrash}).
 *
 * <p>A host's {@link #run} asks the authorizer for {@link Actions#TOMBSTONE_PURGE} across all sites
 * first, as the actor of the view ({@link #as}; {@code system:purge} without one), and records that
 * actor. The hourly cron is the library's own work and is not checked.
 */
public final class TombstonePurge {

  public static final String WORKFLOW = "tombstone-purge";
  private static final Actor PURGE = Actor.of("system:purge");

  /**
   * What a purge run did.
   *
   * @param purged tombstones hard-deleted
   * @param failedBatches batches (of tombstones, or one interrupted site purge) that failed and
   *     were skipped for this run
   * @param sitesFinished interrupted site purges this run finished
   * @param sitesPurged trashed sites whose recovery window closed, deleted for good by this run
   */
  public record Report(int purged, int failedBatches, int sitesFinished, int sitesPurged) {

    public Report(int purged, int failedBatches, int sitesFinished) {
      this(purged, failedBatches, sitesFinished, 0);
    }
  }

  private final Store store;
  private final MetadataCommands commands;
  private final BlobStore blobs;
  private final Operations operations;
  private final Retrier retrier;
  private final DeployOptions options;
  private final SitePurge sitePurge;
  private final Actor actor;

  public TombstonePurge(
      Store store, BlobStore blobs, Operations operations, Retrier retrier, DeployOptions options) {
    this.store = store;
    this.commands = new MetadataCommands(store.metadata());
    this.blobs = blobs;
    this.operations = operations;
    this.retrier = retrier;
    this.options = options;
    this.sitePurge = new SitePurge(store.metadata(), blobs, retrier, operations.clock());
    this.actor = PURGE;
  }

  private TombstonePurge(TombstonePurge base, Actor actor) {
    this.store = base.store;
    this.commands = base.commands;
    this.blobs = base.blobs;
    this.operations = base.operations;
    this.retrier = base.retrier;
    this.options = base.options;
    this.sitePurge = base.sitePurge;
    this.actor = actor;
  }

  /** The same purge, asking the authorizer about {@code actor} and recording it. */
  public TombstonePurge as(Actor actor) {
    return new TombstonePurge(this, java.util.Objects.requireNonNull(actor, "actor"));
  }

  public WorkflowDefinition definition() {
    return WorkflowDefinition.named(WORKFLOW)
        .retryPolicy(retrier.workflowPolicy())
        .handler(ctx -> purge());
  }

  /**
   * Purges every expired tombstone, batch by batch. A batch that fails is skipped for this run (the
   * next run retries it); three failed batches in a row abort the run.
   *
   * @throws dev.durabledeploy.spi.exception.AccessDeniedException when the authorizer refuses
   *     {@link Actions#TOMBSTONE_PURGE}; nothing was locked or written
   */
  public Report run() {
    operations.authorize(actor, null, Actions.TOMBSTONE_PURGE);
    return purge();
  }

  private Report purge() {
    return operations.run(
        WORKFLOW,
        null,
        op -> {
          Set<Tombstone> failed = new HashSet<>();
          int[] purged = {0};
          Iterator<List<Tombstone>> batches =
              new Iterator<>() {
                private List<Tombstone> next;

                @Override
                public boolean hasNext() {
                  if (next == null) {
                    next =
                        retrier
                            .call(
                                op,
                                () ->
                                    store
                                        .metadata()
                                        .listExpiredTombstones(
                                            operations.clock().instant(),
                                            options.batchSize() + failed.size()))
                            .stream()
                            .filter(t -> !failed.contains(t))
                            .limit(options.batchSize())
                            .toList();
                  }
                  return !next.isEmpty();
                }

                @Override
                public List<Tombstone> next() {
                  List<Tombstone> batch = next;
                  next = null;
                  // Assume failure until the batch is done, so a failed one is not fetched again.
                  failed.addAll(batch);
                  return batch;
                }
              };
          int failedBatches =
              retrier.forEachBatch(
                  op,
                  batches,
                  TombstonePurge::name,
                  batch -> {
                    for (Tombstone t : batch) {
                      purgeOne(op, t);
                    }
                    failed.removeAll(batch);
                    purged[0] += batch.size();
                  });
          int[] sitesFinished = {0};
          int failedSites =
              retrier.forEachBatch(
                  op,
                  sitePurge.pendingSites(op).iterator(),
                  site -> "unfinished purge of site " + site,
                  site -> {
                    // Lock: the site lock (E1), like purgeSite itself.
                    try (SiteLock lock =
                        op.lockSite(store.siteLocks(), site, options.lockTimeout())) {
                      if (sitePurge.finishPending(op, site, actor)) {
                        sitesFinished[0]++;
                      }
                    }
                  });
          int[] sitesPurged = {0};
          int failedTrashed =
              retrier.forEachBatch(
                  op,
                  expiredSites(op).iterator(),
                  site -> "trashed site " + site,
                  site -> {
                    // Lock: the site lock (E1), so a restore that won the race is not undone.
                    try (SiteLock lock =
                        op.lockSite(store.siteLocks(), site, options.lockTimeout())) {
                      Optional<Site> now = retrier.call(op, () -> store.metadata().findSite(site));
                      if (now.isPresent()
                          && now.get().state() == SiteState.TRASHED
                          && !operations.clock().instant().isBefore(now.get().purgeAfter())) {
                        sitePurge.purge(op, site, actor);
                        sitesPurged[0]++;
                      }
                    }
                  });
          return new Report(
              purged[0],
              failedSites + failedBatches + failedTrashed,
              sitesFinished[0],
              sitesPurged[0]);
        });
  }

  /** Most trashed sites one run deletes; the rest wait for the next run. */
  static final int MAX_SITES_PER_RUN = 1_000;

  /** The trashed sites whose recovery window has closed, oldest first. */
  private List<SiteId> expiredSites(Operation op) {
    java.time.Instant cutoff = operations.clock().instant();
    return retrier
        .call(op, () -> store.metadata().listExpiredSites(cutoff, MAX_SITES_PER_RUN))
        .stream()
        .map(Site::id)
        .toList();
  }

  private static String name(List<Tombstone> batch) {
    Tombstone first = batch.get(0);
    Tombstone last = batch.get(batch.size() - 1);
    return "tombstones "
        + first.site()
        + "/"
        + first.deployId()
        + (batch.size() > 1 ? " .. " + last.site() + "/" + last.deployId() : "");
  }

  /**
   * One tombstone; the batch around it is what is retried, so the steps are fenced, not retried.
   */
  private void purgeOne(Operation op, Tombstone t) {
    // Lock: the site lock (E1), so a purge never interleaves with a restore of the same site.
    try (SiteLock lock = op.lockSite(store.siteLocks(), t.site(), options.lockTimeout())) {
      blobs.deletePrefix(BlobLayout.trash(t.site(), t.deployId()), op.fence());
      op.requireLockHeld();
      commands.purgeTombstone(t.site(), t.deployId(), actor);
    }
  }
}
