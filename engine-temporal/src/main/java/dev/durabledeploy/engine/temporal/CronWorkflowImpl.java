package dev.durabledeploy.engine.temporal;

import io.temporal.activity.ActivityOptions;
import io.temporal.common.RetryOptions;
import io.temporal.workflow.Workflow;
import java.time.Duration;
import java.util.Map;

/** Internal: see {@link CronWorkflow}. */
public class CronWorkflowImpl implements CronWorkflow {

  private final RunActivities activities =
      Workflow.newActivityStub(
          RunActivities.class,
          ActivityOptions.newBuilder()
              .setStartToCloseTimeout(Duration.ofMinutes(1))
              .setRetryOptions(RetryOptions.newBuilder().setMaximumAttempts(5).build())
              .build());

  @Override
  public void fire(String workflow, Map<String, String> input) {
    activities.submit(workflow, input);
  }
}
