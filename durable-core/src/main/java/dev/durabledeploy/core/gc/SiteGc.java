package dev.durabledeploy.core.gc;

import dev.durabledeploy.core.DeployOptions;
import dev.durabledeploy.core.alias.ProjectedAliases;
import dev.durabledeploy.core.deploy.BlobLayout;
import dev.durabledeploy.core.events.Operations;
import dev.durabledeploy.core.events.Operations.Operation;
import dev.durabledeploy.core.metadata.MetadataCommands;
import dev.durabledeploy.core.retry.Retrier;
import dev.durabledeploy.spi.Actions;
import dev.durabledeploy.spi.Actor;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.Store;
import dev.durabledeploy.spi.blob.BlobStore;
import dev.durabledeploy.spi.engine.Debounce;
import dev.durabledeploy.spi.engine.WorkflowDefinition;
import dev.durabledeploy.spi.exception.DeployAliasedException;
import dev.durabledeploy.spi.lock.SiteLock;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.spi.outbox.StandardEvents;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Executes retention for one site: under the site lock it re-reads the site, plans, and trashes the
 * oldest {@code blastCap} planned deploys (V7) — each one tombstone row first, then its bytes moved
 * to trash (V6). The tombstone command refuses an aliased deploy atomically, which is V1's re-check
 * right before the move. A cap of 0 refuses every trash; a dry run writes nothing.
 *
 * <p>Workflow {@code gc-site} runs it on {@code site.changed}, keyed by site and debounced, so a
 * burst of changes to a site costs one run.
 *
 * <p>A host's {@link #run} that writes (not a dry run) asks the authorizer for {@link
 * Actions#GC_RUN} first, as the actor of the view ({@link #as}; {@code system:gc} without one), and
 * records that actor on the tombstones it writes. The workflow is the library's own work and is not
 * checked.
 */
public final class SiteGc {

  public static final String WORKFLOW = "gc-site";

  /** The actor of GC's own runs, and of a host's call that names none. */
  public static final Actor GC_ACTOR = Actor.of("system:gc");

  private static final Actor GC = GC_ACTOR;

  private final Store store;
  private final MetadataCommands commands;
  private final BlobStore blobs;
  private final Operations operations;
  private final Retrier retrier;
  private final DeployOptions options;
  private final RetentionPlanner planner;
  private final Actor actor;

  public SiteGc(
      Store store, BlobStore blobs, Operations operations, Retrier retrier, DeployOptions options) {
    this.store = store;
    this.commands = new MetadataCommands(store.metadata());
    this.blobs = blobs;
    this.operations = operations;
    this.retrier = retrier;
    this.options = options;
    this.planner = new RetentionPlanner(options);
    this.actor = GC;
  }

  private SiteGc(SiteGc base, Actor actor) {
    this.store = base.store;
    this.commands = base.commands;
    this.blobs = base.blobs;
    this.operations = base.operations;
    this.retrier = base.retrier;
    this.options = base.options;
    this.planner = base.planner;
    this.actor = actor;
  }

  /** The same GC, asking the authorizer about {@code actor} and recording it in the audit log. */
  public SiteGc as(Actor actor) {
    return new SiteGc(this, java.util.Objects.requireNonNull(actor, "actor"));
  }

  /** The workflow: GC of the event's site, debounced per site. */
  public WorkflowDefinition definition() {
    return WorkflowDefinition.named(WORKFLOW)
        .keyedBy(StandardEvents.KEY_SITE)
        .retryPolicy(retrier.workflowPolicy())
        .debounce(new Debounce(options.gcQuiet(), options.gcMaxDelay()))
        .handler(ctx -> execute(SiteId.of(ctx.input().get(StandardEvents.KEY_SITE)), false));
  }

  /** Plans the site as it is now, without writing anything. */
  public GcPlan plan(SiteId site) {
    return operations.run("gc-plan", site, op -> planLocked(op, site));
  }

  /**
   * Runs retention on the site; with {@code dryRun} only reports what it would do.
   *
   * @throws dev.durabledeploy.spi.exception.AccessDeniedException when not a dry run and the
   *     authorizer refuses {@link Actions#GC_RUN}; nothing was locked or written
   */
  public GcReport run(SiteId site, boolean dryRun) {
    java.util.Objects.requireNonNull(site, "site");
    if (!dryRun) {
      operations.authorize(actor, site, Actions.GC_RUN);
    }
    return execute(site, dryRun);
  }

  private GcReport execute(SiteId site, boolean dryRun) {
    return operations.run(
        "gc",
        site,
        op -> {
          // Lock: the site lock (E1), so nothing aliases a deploy between our read and our move.
          try (SiteLock lock = op.lockSite(store.siteLocks(), site, options.lockTimeout())) {
            GcPlan plan = planLocked(op, site);
            if (dryRun) {
              return new GcReport(plan, List.of(), List.of(), List.of(), true);
            }
            int cap = Math.min(options.blastCap(), plan.trash().size());
            List<DeployId> now = plan.trash().subList(0, cap);
            List<DeployId> deferred = plan.trash().subList(cap, plan.trash().size());
            List<DeployId> trashed = new ArrayList<>();
            List<DeployId> refused = new ArrayList<>();
            int done = 0;
            for (DeployId id : now) {
              try {
                retrier.call(
                    op, () -> commands.tombstone(site, id, options.recoveryWindow(), actor));
                retrier.run(
                    op,
                    () ->
                        blobs.movePrefix(
                            BlobLayout.deploy(site, id), BlobLayout.trash(site, id), op.fence()));
                trashed.add(id);
              } catch (DeployAliasedException aliasedMeanwhile) {
                refused.add(id);
              }
              op.progress(++done, now.size(), "trashed " + id);
            }
            return new GcReport(plan, trashed, deferred, refused, false);
          }
        });
  }

  private GcPlan planLocked(Operation op, SiteId site) {
    var record = retrier.call(op, () -> store.metadata().findSite(site));
    if (record.isPresent() && !record.get().isActive()) {
      // A trashed site is kept whole for its restore; a purging one is going away anyway.
      return planner.plan(site, List.of(), List.of(), Set.of(), operations.clock().instant());
    }
    List<Deploy> deploys = retrier.call(op, () -> store.metadata().listDeploys(site));
    var aliases = retrier.call(op, () -> store.metadata().listAliases(site));
    Instant now = operations.clock().instant();
    Set<DeployId> marked = new HashSet<>();
    for (Deploy d : deploys) {
      // Only a deploy younger than retention can be kept by its marker: for the older ones (most
      // of a site that GC trashes) the plan is the same marked or not, so they cost no stat.
      if (planner.markerMatters(d, now)
          && retrier.call(op, () -> blobs.stat(BlobLayout.marker(site, d.id()))).isPresent()) {
        marked.add(d.id());
      }
    }
    // What the bucket's alias projections point at is kept too: a serve plane reads those, and
    // they can name a deploy no alias row targets (V1, KeepReason.PROJECTED).
    Set<DeployId> projected =
        new HashSet<>(retrier.call(op, () -> ProjectedAliases.read(blobs, site)).targets());
    return planner.plan(site, deploys, aliases, marked, projected, now);
  }
}
