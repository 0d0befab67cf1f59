package dev.durabledeploy.core.jobs;

import dev.durabledeploy.core.events.Operations;
import dev.durabledeploy.core.retry.Retrier;
import dev.durabledeploy.spi.DurableDeployException;
import dev.durabledeploy.spi.TransientStoreException;
import dev.durabledeploy.spi.engine.WorkflowDefinition;
import dev.durabledeploy.spi.lease.JobLeases;
import dev.durabledeploy.spi.lease.Lease;
import java.time.Instant;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Workflow {@code lease-sweep} (on start and periodically): resets orphaned job leases so that no
 * job stays "in progress" forever (E4). A lease is orphaned when it expired, or when its owner is a
 * previous incarnation of this host — same host name, a process id that no longer runs — which
 * frees a crashed process's jobs at once on restart instead of after their TTL.
 */
public final class LeaseSweep {

  public static final String WORKFLOW = "lease-sweep";
  private static final Logger LOG = LoggerFactory.getLogger(LeaseSweep.class);
  private static final int MAX_LEASES = 10_000;

  /** What a sweep did. */
  public record Report(int expired, int orphanedByRestart, boolean unavailable) {}

  private final JobLeases leases;
  private final Optional<InstanceId> self;
  private final Operations operations;
  private final Retrier retrier;

  public LeaseSweep(JobLeases leases, String instanceId, Operations operations, Retrier retrier) {
    this.leases = leases;
    this.self = InstanceId.parse(instanceId);
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
          Instant now = operations.clock().instant();
          int expired = 0;
          int orphaned = 0;
          java.util.List<Lease> all;
          try {
            all = retrier.call(op, () -> leases.list(MAX_LEASES));
          } catch (TransientStoreException e) {
            throw e;
          } catch (DurableDeployException e) {
            LOG.warn("job leases are unavailable ({}); nothing to sweep", e.getMessage());
            return new Report(0, 0, true);
          }
          for (Lease lease : all) {
            boolean isExpired = lease.isExpired(now);
            boolean deadIncarnation = !isExpired && isPreviousIncarnation(lease.owner());
            if ((isExpired || deadIncarnation)
                && retrier.call(op, () -> leases.release(lease.key(), lease.owner()))) {
              if (isExpired) {
                expired++;
              } else {
                orphaned++;
              }
              LOG.info(
                  "reset job lease {} of {} ({})",
                  lease.key(),
                  lease.owner(),
                  isExpired ? "expired" : "its process is gone");
            }
          }
          return new Report(expired, orphaned, false);
        });
  }

  private boolean isPreviousIncarnation(String owner) {
    Optional<InstanceId> holder = InstanceId.parse(owner);
    return self.isPresent()
        && holder.isPresent()
        && holder.get().host().equals(self.get().host())
        && !holder.get().equals(self.get())
        && ProcessHandle.of(holder.get().pid()).map(p -> !p.isAlive()).orElse(true);
  }
}
