package dev.durabledeploy.examples.reliability;

import dev.durabledeploy.core.DurableDeploy;
import dev.durabledeploy.core.outbox.OutboxRelay;
import dev.durabledeploy.spi.engine.WorkflowDefinition;
import dev.durabledeploy.spi.exception.TransientStoreException;
import dev.durabledeploy.spi.outbox.StandardEvents;
import dev.durabledeploy.spi.retry.RetryPolicy;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import javax.sql.DataSource;

/**
 * The harness's consumer: a workflow that receives every outbox event type and records the event id
 * in {@code harness_deliveries}, idempotently (one row per event, a delivery count). Its rows are
 * the side effect the checks count.
 */
final class Deliveries {

  static final String WORKFLOW = "harness-consumer";
  static final List<String> EVENT_TYPES =
      List.of(
          StandardEvents.SITE_CHANGED,
          StandardEvents.ALIAS_CHANGED,
          StandardEvents.DEPLOY_DELETED,
          StandardEvents.DEPLOY_RESTORED,
          StandardEvents.DEPLOY_PURGED,
          StandardEvents.SITE_DELETED,
          StandardEvents.SITE_REGISTERED,
          StandardEvents.SITE_UPDATED);

  private Deliveries() {}

  static void createTable(DataSource db) throws SQLException {
    try (Connection c = db.getConnection();
        Statement s = c.createStatement()) {
      s.execute(
          "CREATE TABLE IF NOT EXISTS harness_deliveries ("
              + " event_id bigint PRIMARY KEY, deliveries integer NOT NULL)");
    }
  }

  /** Routes every event type to the consumer; call before {@code build()}. */
  static DurableDeploy.Builder route(DurableDeploy.Builder builder) {
    EVENT_TYPES.forEach(type -> builder.route(type, WORKFLOW));
    return builder;
  }

  /**
   * The consumer workflow; register it on the engine before the plane starts. Like any consumer
   * that must not drop events, it reports a database failure as transient and retries long enough
   * to outlast an outage (about 90 s); an exhausted run would be dead-lettered, and the relay
   * acknowledges the event once the engine has the run.
   */
  static WorkflowDefinition definition(DataSource db) {
    return WorkflowDefinition.named(WORKFLOW)
        .retryPolicy(
            RetryPolicy.defaults()
                .withMaxAttempts(50)
                .withBackoff(Duration.ofMillis(100), Duration.ofSeconds(2), 2.0))
        .handler(ctx -> record(db, Long.parseLong(ctx.input().get(OutboxRelay.INPUT_EVENT_ID))));
  }

  private static void record(DataSource db, long eventId) {
    try (Connection c = db.getConnection();
        PreparedStatement ps =
            c.prepareStatement(
                "INSERT INTO harness_deliveries (event_id, deliveries) VALUES (?, 1)"
                    + " ON CONFLICT (event_id)"
                    + " DO UPDATE SET deliveries = harness_deliveries.deliveries + 1")) {
      ps.setLong(1, eventId);
      ps.executeUpdate();
    } catch (SQLException e) {
      throw new TransientStoreException("recording delivery of event " + eventId + " failed", e);
    }
  }
}
