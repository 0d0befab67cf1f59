package dev.durabledeploy.engine.temporal;

import static dev.durabledeploy.engine.temporal.Errors.describe;

import dev.durabledeploy.spi.exception.ConfigurationException;
import io.grpc.Status;
import io.temporal.api.workflowservice.v1.DescribeNamespaceRequest;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowClientOptions;
import io.temporal.serviceclient.WorkflowServiceStubs;
import io.temporal.serviceclient.WorkflowServiceStubsOptions;
import java.time.Duration;

/**
 * The connection an engine opens, and owns, when it is given a target instead of a client. Opening
 * it checks what a host gets wrong at deploy time, so a wrong setting fails at {@code build()} with
 * what to check rather than at the first submission.
 */
record Connection(WorkflowServiceStubs stubs, WorkflowClient client) {

  /**
   * Connects to the frontend at {@code target} within {@code connectTimeout} and checks that {@code
   * namespace} exists.
   *
   * @throws ConfigurationException ({@code temporal.target}) when the frontend cannot be reached,
   *     ({@code temporal.namespace}) when the namespace is missing or cannot be described
   */
  static Connection open(String target, String namespace, Duration connectTimeout) {
    WorkflowServiceStubs stubs;
    try {
      stubs =
          WorkflowServiceStubs.newConnectedServiceStubs(
              WorkflowServiceStubsOptions.newBuilder().setTarget(target).build(), connectTimeout);
    } catch (RuntimeException e) {
      throw new ConfigurationException(
          "temporal.target",
          "cannot reach Temporal at "
              + target
              + " within "
              + connectTimeout
              + " ("
              + describe(e)
              + "); check the host and port of the frontend service, TLS settings and the"
              + " network",
          e);
    }
    try {
      stubs
          .blockingStub()
          .describeNamespace(DescribeNamespaceRequest.newBuilder().setNamespace(namespace).build());
    } catch (RuntimeException e) {
      stubs.shutdown();
      boolean missing = Status.fromThrowable(e).getCode() == Status.Code.NOT_FOUND;
      throw new ConfigurationException(
          "temporal.namespace",
          missing
              ? "namespace '"
                  + namespace
                  + "' does not exist on "
                  + target
                  + "; create it (temporal operator namespace create "
                  + namespace
                  + ") or configure namespace(...)"
              : "cannot describe namespace '" + namespace + "' on " + target + ": " + describe(e),
          e);
    }
    return new Connection(
        stubs,
        WorkflowClient.newInstance(
            stubs, WorkflowClientOptions.newBuilder().setNamespace(namespace).build()));
  }
}
