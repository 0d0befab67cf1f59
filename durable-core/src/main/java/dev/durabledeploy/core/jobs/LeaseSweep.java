package dev.durabledeploy.core.jobs;

import dev.durabledeploy.core.events.Operations;
import dev.durabledeploy.core.retry.Retrier;
import dev.durabledeploy.spi.JobKey;
import dev.durabledeploy.spi.engine.WorkflowDefinition;
import dev.durabledeploy.spi.exception.DurableDeployException;
import dev.durabledeploy.spi.exception.TransientStoreException;
import dev.durabledeploy.spi.lease.JobLeases;
import dev.durabledeploy.spi.lease.Lease;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Workflow {@code lease-sweep} (on start and periodically): resets dead job leases so that no job
 * stays "in progress" forever (E4). A lease is dead when the store says it expired ({@link
 * JobLeases#listExpired}, so the store's clock rules decide, not this host's), or when its owner
 * names an incarnation of a {@link JobRunner} that is no longer registered in the store — that
 * process closed, or stopped renewing its registration, so its leftovers are freed without waiting
 * out their TTL.
 *
 * <p>Nothing is guessed from host names or process ids: replicas that share a host name never free
 * each other's live leases. Every release is {@link JobLeases#releaseIfUnchanged} of the lease as
 * listed, so a lease renewed (or taken over) after the sweep read it survives.
 */
public final class LeaseSweep {

  public static final String WORKFLOW = "lease-sweep";
  private static final Logger LOG = LoggerFactory.getLogger(LeaseSweep.class);
  private static final int MAX_LEASES = 10_000;

  /**
   * What a sweep did.
   *
   * @param expired expired leases reset
   * @param orphanedByRestart live-looking leases reset because their owner's incarnation ended
   *     (closed, restarted or stopped renewing its registration)
   * @param unavailable the store keeps no leases: nothing to sweep
   */
  public record Report(int expired, int orphanedByRestart, boolean unavailable) {}

  private final JobLeases leases;
  private final Operations operations;
  private final Retrier retrier;

  /**
   * A sweep of {@code leases}.
   *
   * @param instanceId this process's id; no longer needed to decide anything (the store's
   *     registrations are), kept so existing callers compile
   */
  public LeaseSweep(JobLeases leases, String instanceId, Operations operations, Retrier retrier) {
    this.leases = leases;
    this.operations = operations;
    this.retrier = retrier;
  }

  public WorkflowDefinition definition() {
    return WorkflowDefinition.named(WORKFLOW)
        .retryPolicy(retrier.workflowPolicy())
        .handler(ctx -> run());
  }

  public Report run() {
    return operations.run(
        WORKFLOW,
        null,
        op -> {
          List<Lease> all;
          try {
            all = retrier.call(op, () -> leases.list(MAX_LEASES));
          } catch (TransientStoreException e) {
            throw e;
          } catch (DurableDeployException e) {
            LOG.warn("job leases are unavailable ({}); nothing to sweep", e.getMessage());
            return new Report(0, 0, true);
          }
          // Read after the full listing: a registration that expired in between counts as ended,
          // which is what it is.
          List<Lease> expired = retrier.call(op, () -> leases.listExpired(MAX_LEASES));
          Set<JobKey> expiredKeys = new HashSet<>();
          expired.forEach(l -> expiredKeys.add(l.key()));
          Set<String> liveIncarnations = new HashSet<>();
          for (Lease lease : all) {
            if (Incarnations.isRegistration(lease.key()) && !expiredKeys.contains(lease.key())) {
              liveIncarnations.add(lease.owner());
            }
          }
          int expiredReset = 0;
          for (Lease lease : expired) {
            if (retrier.call(op, () -> leases.releaseIfUnchanged(lease))) {
              expiredReset++;
              LOG.info("reset job lease {} of {} (expired)", lease.key(), lease.owner());
            }
          }
          int orphaned = 0;
          if (all.size() >= MAX_LEASES) {
            // A truncated listing may miss a live registration: judge by expiry only this time.
            LOG.warn(
                "{} or more job leases; only expired ones are reset by this sweep", MAX_LEASES);
            return new Report(expiredReset, 0, false);
          }
          for (Lease lease : all) {
            if (expiredKeys.contains(lease.key()) || Incarnations.isRegistration(lease.key())) {
              continue;
            }
            Optional<String> incarnation = Incarnations.ofJobOwner(lease.owner());
            if (incarnation.isPresent()
                && !liveIncarnations.contains(incarnation.get())
                && retrier.call(op, () -> leases.releaseIfUnchanged(lease))) {
              orphaned++;
              LOG.info(
                  "reset job lease {} of {} (its incarnation is no longer registered)",
                  lease.key(),
                  lease.owner());
            }
          }
          return new Report(expiredReset, orphaned, false);
        });
  }
}
