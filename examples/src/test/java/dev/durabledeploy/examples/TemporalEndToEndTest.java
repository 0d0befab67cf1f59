package dev.durabledeploy.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.durabledeploy.core.DeployOptions;
import dev.durabledeploy.core.DurableDeploy;
import dev.durabledeploy.engine.temporal.TemporalEngine;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.spi.metadata.Tombstone;
import dev.durabledeploy.store.memory.InMemoryBlobStore;
import dev.durabledeploy.store.memory.InMemoryStore;
import dev.durabledeploy.testkit.MutableClock;
import io.temporal.api.common.v1.WorkflowExecution;
import io.temporal.api.workflowservice.v1.DescribeWorkflowExecutionRequest;
import io.temporal.testing.TestEnvironmentOptions;
import io.temporal.testing.TestWorkflowEnvironment;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The core's background workflows on Temporal: deploys and alias moves append outbox events, the
 * relay submits them to the Temporal engine, and {@code alias-project} and the debounced {@code
 * gc-site} run as activities of their site's key workflow, with the in-memory store.
 */
@DisplayName("core workflows run end to end through the relay on Temporal")
class TemporalEndToEndTest {

  private static final SiteId SITE = SiteId.of("temporal-site");

  private TestWorkflowEnvironment env;

  @BeforeEach
  void startServer() {
    env =
        TestWorkflowEnvironment.newInstance(
            TestEnvironmentOptions.newBuilder().setUseTimeskipping(false).build());
  }

  @AfterEach
  void stopServer() {
    env.close();
  }

  @Test
  @DisplayName("alias-project writes the projection and gc-site trashes what retention allows")
  void aliasProjectionAndGc() {
    MutableClock clock = new MutableClock();
    InMemoryStore store = new InMemoryStore(clock);
    InMemoryBlobStore blobs = new InMemoryBlobStore(clock);
    TemporalEngine engine =
        TemporalEngine.builder().client(env.getWorkflowClient()).taskQueue("e2e").build();
    try (DurableDeploy plane =
        DurableDeploy.builder()
            .store(store)
            .blobStore(blobs)
            .engine(engine)
            .clock(clock)
            .options(
                DeployOptions.builder()
                    .keepLatest(1)
                    .gcDebounce(Duration.ofMillis(200), Duration.ofSeconds(2))
                    .build())
            .build()
            .start()) {
      List<Deploy> deploys =
          Releases.toProduction(plane, SITE, clock, java.util.Arrays.asList(null, null, null));
      // Ten days on, past grace and retention: the next site change lets GC trash deploy 0 (deploy
      // 1 is aliased again by the rollback, deploy 2 was released from the alias just now).
      clock.advance(Duration.ofDays(10));
      plane.deploys().rollback(SITE, AliasName.PRODUCTION);

      await()
          .atMost(Duration.ofSeconds(60))
          .untilAsserted(
              () -> {
                assertThat(Releases.projected(blobs, SITE, "deployId"))
                    .isEqualTo(deploys.get(1).id().value());
                assertThat(plane.deploys().trash(SITE))
                    .extracting(Tombstone::deployId)
                    .containsExactly(deploys.get(0).id());
                assertThat(store.outbox().stats().undelivered()).isZero();
              });
      assertThat(plane.engine().deadLetters(10)).isEmpty();
      for (String workflow : List.of("alias-project", "gc-site")) {
        assertThat(keyWorkflowExists("durable-deploy/" + workflow + "/k." + SITE))
            .as(workflow + " ran in its site's key workflow")
            .isTrue();
      }
    } finally {
      blobs.close();
      store.close();
    }
  }

  private boolean keyWorkflowExists(String workflowId) {
    return env.getWorkflowClient()
        .getWorkflowServiceStubs()
        .blockingStub()
        .describeWorkflowExecution(
            DescribeWorkflowExecutionRequest.newBuilder()
                .setNamespace(env.getNamespace())
                .setExecution(WorkflowExecution.newBuilder().setWorkflowId(workflowId))
                .build())
        .hasWorkflowExecutionInfo();
  }
}
