package dev.durabledeploy.core.outbox;

import dev.durabledeploy.core.DeployOptions;
import dev.durabledeploy.core.events.Operations;
import dev.durabledeploy.core.retry.Retrier;
import dev.durabledeploy.spi.engine.WorkflowDefinition;
import dev.durabledeploy.spi.outbox.Outbox;
import java.time.Instant;

/** Workflow {@code outbox-purge} (cron): deletes delivered events older than the retention. */
public final class OutboxPurge {

  public static final String WORKFLOW = "outbox-purge";

  private final Outbox outbox;
  private final Operations operations;
  private final Retrier retrier;
  private final DeployOptions options;

  public OutboxPurge(Outbox outbox, Operations operations, Retrier retrier, DeployOptions options) {
    this.outbox = outbox;
    this.operations = operations;
    this.retrier = retrier;
    this.options = options;
  }

  public WorkflowDefinition definition() {
    return WorkflowDefinition.named(WORKFLOW)
        .retryPolicy(retrier.workflowPolicy())
        .handler(ctx -> run());
  }

  /** Deletes delivered events older than {@code outboxRetention}; returns how many. */
  public long run() {
    return operations.run(
        WORKFLOW,
        null,
        op -> {
          Instant cutoff = operations.clock().instant().minus(options.outboxRetention());
          long total = 0;
          int deleted;
          do {
            deleted =
                retrier.call(op, () -> outbox.purgeDelivered(cutoff, options.batchSize() * 10));
            total += deleted;
          } while (deleted == options.batchSize() * 10);
          return total;
        });
  }
}
