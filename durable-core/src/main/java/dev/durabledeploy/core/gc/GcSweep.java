package dev.durabledeploy.core.gc;

import dev.durabledeploy.core.DeployOptions;
import dev.durabledeploy.core.alias.ProjectedAliases;
import dev.durabledeploy.core.deploy.BlobLayout;
import dev.durabledeploy.core.events.Operations;
import dev.durabledeploy.core.events.Operations.Operation;
import dev.durabledeploy.core.jobs.JobRunner;
import dev.durabledeploy.core.retry.Retrier;
import dev.durabledeploy.spi.Actions;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.JobKey;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.Store;
import dev.durabledeploy.spi.blob.BlobStore;
import dev.durabledeploy.spi.engine.Submission;
import dev.durabledeploy.spi.engine.WorkflowDefinition;
import dev.durabledeploy.spi.engine.WorkflowEngine;
import dev.durabledeploy.spi.metadata.Alias;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.spi.outbox.StandardEvents;
import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Workflow {@code gc-sweep} (on {@link DeployOptions#gcSweepCron()}, daily by default): submits
 * {@code gc-site} for every site that GC would trash something of now. {@code gc-site} otherwise
 * runs only on {@code site.changed}, debounced in the engine, and an in-process engine keeps a
 * debounced run in memory: a host that dies in the debounce window takes the run with it, and the
 * site would wait for its next change. The sweep bounds that wait to one sweep interval.
 *
 * <p>Which sites: those whose plan by the index and the alias projection objects, with every deploy
 * counted as marked (the most protection a marker can give), trashes something, or keeps a deploy
 * only for its retention and that deploy's marker is missing. That is the sites {@code gc-site}
 * would trash something of (and, rarely, one whose deploy a projection protects as well), at the
 * cost of a projection listing or a marker read only where they decide. Sites with nothing to trash
 * cost two index reads and no submission.
 *
 * <p>Several hosts run the same cron. The sweep runs under the job lease {@value #JOB_KEY}, so
 * sweeps that fire together do not scan twice (the others report {@code ranElsewhere}); a sweep
 * after another finds nothing left to submit for the sites that one collected; and {@code gc-site}
 * itself is idempotent under the site lock (V9), so a site submitted twice is collected once.
 */
public final class GcSweep {

  public static final String WORKFLOW = "gc-sweep";

  /** The job lease that keeps sweeps of several hosts from running at once. */
  public static final String JOB_KEY = "gc-sweep";

  /** Sites read per page of the index. */
  public static final int PAGE = 500;

  /** How long one {@code gc-site} submission may take to be accepted. */
  public static final Duration SUBMIT_TIMEOUT = Duration.ofMinutes(1);

  private static final Logger LOG = LoggerFactory.getLogger(GcSweep.class);

  /**
   * What a sweep did.
   *
   * @param sitesScanned sites whose rows it read
   * @param sitesSubmitted sites it submitted {@code gc-site} for
   * @param ranElsewhere another sweep held the lease, so this one did nothing
   */
  public record Report(int sitesScanned, int sitesSubmitted, boolean ranElsewhere) {}

  private final Store store;
  private final BlobStore blobs;
  private final WorkflowEngine engine;
  private final JobRunner jobs;
  private final Operations operations;
  private final Retrier retrier;
  private final RetentionPlanner planner;

  public GcSweep(
      Store store,
      BlobStore blobs,
      WorkflowEngine engine,
      JobRunner jobs,
      Operations operations,
      Retrier retrier,
      DeployOptions options) {
    this.store = store;
    this.blobs = blobs;
    this.engine = engine;
    this.jobs = jobs;
    this.operations = operations;
    this.retrier = retrier;
    this.planner = new RetentionPlanner(options);
  }

  /** The workflow; its submissions carry the run id, so a retried sweep submits a site once. */
  public WorkflowDefinition definition() {
    return WorkflowDefinition.named(WORKFLOW)
        .retryPolicy(retrier.workflowPolicy())
        .handler(ctx -> sweep("gc-sweep:" + ctx.runId().value()));
  }

  /**
   * Sweeps now, submitting {@code gc-site} for every site GC would trash something of. A host's
   * call asks the authorizer for {@link Actions#GC_RUN} across all sites first, as {@code
   * system:gc} (the actor the runs it submits record); the daily cron is the library's own work.
   *
   * @throws dev.durabledeploy.spi.exception.AccessDeniedException when the authorizer refuses;
   *     nothing was submitted
   */
  public Report run() {
    operations.authorize(SiteGc.GC_ACTOR, null, Actions.GC_RUN);
    return sweep(null);
  }

  private Report sweep(String idempotencyPrefix) {
    return operations.run(
        WORKFLOW,
        null,
        op -> {
          JobRunner.Outcome<Report> outcome =
              jobs.runExclusive(JobKey.of(JOB_KEY), job -> scan(op, idempotencyPrefix));
          if (!outcome.ran()) {
            LOG.info(
                "GC sweep skipped: {} is sweeping",
                outcome.runningElsewhere() == null
                    ? "another host"
                    : outcome.runningElsewhere().owner());
            return new Report(0, 0, true);
          }
          return outcome.result();
        });
  }

  private Report scan(Operation op, String idempotencyPrefix) {
    int scanned = 0;
    int submitted = 0;
    SiteId after = null;
    while (true) {
      SiteId from = after;
      List<SiteId> page = retrier.call(op, () -> store.metadata().listSites(from, PAGE));
      for (SiteId site : page) {
        scanned++;
        if (hasTrash(op, site)) {
          submit(site, idempotencyPrefix);
          submitted++;
        }
        op.progress(scanned, 0, "swept " + site);
      }
      if (page.size() < PAGE) {
        break;
      }
      after = page.get(page.size() - 1);
    }
    LOG.info("GC sweep: {} sites read, gc-site submitted for {}", scanned, submitted);
    return new Report(scanned, submitted, false);
  }

  /** Whether {@code gc-site} would trash anything of the site now (see the class comment). */
  boolean hasTrash(Operation op, SiteId site) {
    List<Deploy> deploys = retrier.call(op, () -> store.metadata().listDeploys(site));
    if (deploys.isEmpty()) {
      return false;
    }
    List<Alias> aliases = retrier.call(op, () -> store.metadata().listAliases(site));
    Instant now = operations.clock().instant();
    Set<DeployId> all = new HashSet<>();
    deploys.forEach(d -> all.add(d.id()));
    GcPlan mostProtected = planner.plan(site, deploys, aliases, all, now);
    if (!mostProtected.trash().isEmpty()) {
      // The alias projections protect too; read them only for a site that has trash by its rows.
      Set<DeployId> projected =
          new HashSet<>(retrier.call(op, () -> ProjectedAliases.read(blobs, site)).targets());
      return !planner.plan(site, deploys, aliases, all, projected, now).trash().isEmpty();
    }
    for (GcPlan.Keep keep : mostProtected.keeps()) {
      if (keep.reasons().equals(Set.of(KeepReason.RETENTION))
          && retrier
              .call(op, () -> blobs.stat(BlobLayout.marker(site, keep.deployId())))
              .isEmpty()) {
        return true;
      }
    }
    return false;
  }

  private void submit(SiteId site, String idempotencyPrefix) {
    Submission submission =
        new Submission(
            SiteGc.WORKFLOW,
            Map.of(StandardEvents.KEY_SITE, site.value(), StandardEvents.KEY_CAUSE, WORKFLOW),
            idempotencyPrefix == null ? null : idempotencyPrefix + ":" + site.value());
    // Wait for acceptance so a failure fails the sweep, and its retry (same run id, same keys)
    // submits what is missing without repeating what the engine already has.
    engine
        .submit(submission)
        .toCompletableFuture()
        .orTimeout(SUBMIT_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)
        .join();
  }
}
