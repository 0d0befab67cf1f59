package dev.durabledeploy.engine.temporal;

import static dev.durabledeploy.engine.temporal.Errors.describe;

import dev.durabledeploy.spi.engine.CronSchedule;
import dev.durabledeploy.spi.exception.EngineUnavailableException;
import dev.durabledeploy.spi.exception.InvalidInputException;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.temporal.api.common.v1.Payloads;
import io.temporal.api.common.v1.WorkflowExecution;
import io.temporal.api.enums.v1.WorkflowExecutionStatus;
import io.temporal.api.history.v1.History;
import io.temporal.api.history.v1.WorkflowExecutionStartedEventAttributes;
import io.temporal.api.workflowservice.v1.DescribeWorkflowExecutionRequest;
import io.temporal.api.workflowservice.v1.GetWorkflowExecutionHistoryRequest;
import io.temporal.api.workflowservice.v1.WorkflowServiceGrpc;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowExecutionAlreadyStarted;
import io.temporal.client.WorkflowNotFoundException;
import io.temporal.client.WorkflowOptions;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Cron schedules as Temporal cron workflows ({@link CronWorkflow}), whose fires submit the workflow
 * like any other submission. Schedules live in Temporal: they fire while any engine's worker polls
 * the task queue, also when the engine that scheduled them is stopped.
 */
final class Schedules {

  private static final Logger LOG = LoggerFactory.getLogger(Schedules.class);
  private static final Pattern FIVE_FIELDS = Pattern.compile("\\S+(\\s+\\S+){4}");

  private final WorkflowClient client;
  private final String taskQueue;
  private final WorkflowIds ids;

  Schedules(WorkflowClient client, String taskQueue, WorkflowIds ids) {
    this.client = client;
    this.taskQueue = taskQueue;
    this.ids = ids;
  }

  /** Starts the schedule's cron workflow, unless it runs with this expression and input already. */
  void schedule(CronSchedule schedule) {
    if (!FIVE_FIELDS.matcher(schedule.expression().trim()).matches()) {
      throw new InvalidInputException(
          "cron", "'" + schedule.expression() + "' is not a five-field Unix cron expression");
    }
    String workflowId = ids.cron(schedule.id());
    String zone = schedule.zone().normalized().getId();
    String cron =
        (zone.equals("Z") || zone.equals("UTC") ? "" : "CRON_TZ=" + zone + " ")
            + schedule.expression().trim();
    Map<String, String> input = new TreeMap<>(schedule.input()); // the same payload every time
    if (alreadyScheduled(schedule.id(), workflowId, cron, schedule.workflow(), input)) {
      return; // every host schedules at start: the first one's cron workflow keeps running
    }
    unschedule(schedule.id());
    CronWorkflow stub =
        client.newWorkflowStub(
            CronWorkflow.class,
            WorkflowOptions.newBuilder()
                .setWorkflowId(workflowId)
                .setTaskQueue(taskQueue)
                .setCronSchedule(cron)
                .build());
    try {
      WorkflowClient.start(stub::fire, schedule.workflow(), input);
    } catch (WorkflowExecutionAlreadyStarted anotherHost) {
      LOG.debug("schedule {} was started by another host at the same time", schedule.id());
    } catch (RuntimeException e) {
      if (Status.fromThrowable(e).getCode() == Status.Code.INVALID_ARGUMENT) {
        throw new InvalidInputException(
            "cron", "Temporal refused '" + schedule.expression() + "': " + describe(e));
      }
      throw new EngineUnavailableException(
          "could not start schedule " + schedule.id() + " on Temporal: " + describe(e), e);
    }
  }

  /** False when there was no such schedule. */
  boolean unschedule(String scheduleId) {
    try {
      client.newUntypedWorkflowStub(ids.cron(scheduleId)).terminate("unscheduled");
      return true;
    } catch (WorkflowNotFoundException none) {
      return false;
    }
  }

  /** Whether the cron workflow runs with this expression and input already. */
  private boolean alreadyScheduled(
      String scheduleId,
      String workflowId,
      String cron,
      String workflow,
      Map<String, String> input) {
    WorkflowExecution execution = WorkflowExecution.newBuilder().setWorkflowId(workflowId).build();
    String namespace = client.getOptions().getNamespace();
    try {
      WorkflowServiceGrpc.WorkflowServiceBlockingStub service =
          client.getWorkflowServiceStubs().blockingStub();
      WorkflowExecutionStatus current =
          service
              .describeWorkflowExecution(
                  DescribeWorkflowExecutionRequest.newBuilder()
                      .setNamespace(namespace)
                      .setExecution(execution)
                      .build())
              .getWorkflowExecutionInfo()
              .getStatus();
      if (current != WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING) {
        return false;
      }
      History history =
          service
              .getWorkflowExecutionHistory(
                  GetWorkflowExecutionHistoryRequest.newBuilder()
                      .setNamespace(namespace)
                      .setExecution(execution)
                      .setMaximumPageSize(1)
                      .build())
              .getHistory();
      if (history.getEventsCount() == 0) {
        return false;
      }
      WorkflowExecutionStartedEventAttributes started =
          history.getEvents(0).getWorkflowExecutionStartedEventAttributes();
      Optional<Payloads> wanted =
          client.getOptions().getDataConverter().toPayloads(workflow, input);
      return started.getCronSchedule().equals(cron)
          && wanted.isPresent()
          && wanted.get().equals(started.getInput());
    } catch (StatusRuntimeException e) {
      if (e.getStatus().getCode() == Status.Code.NOT_FOUND) {
        return false;
      }
      throw new EngineUnavailableException(
          "could not read schedule "
              + scheduleId
              + " (workflow "
              + workflowId
              + ") from Temporal: "
              + describe(e)
              + "; check that the Temporal frontend is reachable",
          e);
    }
  }
}
