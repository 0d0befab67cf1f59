package dev.durabledeploy.engine.temporal;

import io.temporal.workflow.WorkflowInterface;
import io.temporal.workflow.WorkflowMethod;
import java.util.Map;

/**
 * Internal (public only because Temporal instantiates it): one {@code CronSchedule}, started as a
 * Temporal cron workflow; each fire submits the scheduled workflow through an activity, so the
 * submission takes the same path (key workflow, retries, dead letters) as any other.
 */
@WorkflowInterface
public interface CronWorkflow {

  @WorkflowMethod
  void fire(String workflow, Map<String, String> input);
}
