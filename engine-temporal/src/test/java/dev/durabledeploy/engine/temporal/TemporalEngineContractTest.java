package dev.durabledeploy.engine.temporal;

import dev.durabledeploy.spi.engine.WorkflowEngine;
import dev.durabledeploy.testkit.tck.WorkflowEngineContract;
import io.temporal.testing.TestEnvironmentOptions;
import io.temporal.testing.TestWorkflowEnvironment;
import java.time.Duration;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * The engine TCK on Temporal's in-process test server (real time, no time skipping). One server per
 * class; each test gets its own task queue and workflow id prefix, so tests never see each other's
 * workflows.
 */
class TemporalEngineContractTest extends WorkflowEngineContract {

  private static final String EXTERNAL = System.getenv("DURABLE_DEPLOY_TEMPORAL_TARGET");
  private static TestWorkflowEnvironment env;

  @BeforeAll
  static void startServer() {
    if (EXTERNAL == null) {
      env =
          TestWorkflowEnvironment.newInstance(
              TestEnvironmentOptions.newBuilder().setUseTimeskipping(false).build());
    }
  }

  @AfterAll
  static void stopServer() {
    if (env != null) {
      env.close();
    }
  }

  @Override
  protected WorkflowEngine createEngine() {
    String unique = UUID.randomUUID().toString().substring(0, 8);
    TemporalEngine.Builder builder = TemporalEngine.builder();
    if (EXTERNAL == null) {
      builder.client(env.getWorkflowClient());
    } else {
      builder
          .target(EXTERNAL)
          .namespace(System.getenv().getOrDefault("DURABLE_DEPLOY_TEMPORAL_NAMESPACE", "default"));
    }
    return builder
        .taskQueue("tck-" + unique)
        .workflowIdPrefix("tck-" + unique)
        .heartbeatTimeout(Duration.ofSeconds(5))
        .build();
  }
}
