package dev.durabledeploy.examples.reliability;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.durabledeploy.core.DeployOptions;
import dev.durabledeploy.core.DurableDeploy;
import dev.durabledeploy.core.health.HealthOptions;
import dev.durabledeploy.engine.executor.ExecutorEngine;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.engine.WorkflowDefinition;
import dev.durabledeploy.spi.health.Health;
import dev.durabledeploy.spi.health.HealthReport;
import dev.durabledeploy.spi.health.HealthStatus;
import dev.durabledeploy.spi.outbox.NewEvent;
import dev.durabledeploy.spi.outbox.StandardEvents;
import dev.durabledeploy.store.postgres.PostgresStore;
import dev.durabledeploy.testkit.fixtures.PostgresExtension;
import dev.durabledeploy.testkit.fixtures.PostgresServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 25, item 1, on a real PostgreSQL: {@code plane.health()} turns DEGRADED as the relay falls
 * behind, DOWN within its deadline while the database is stopped, and UP again after the restart
 * once the relay has caught up.
 */
class HealthOutageTest {

  @RegisterExtension static final PostgresExtension PG = new PostgresExtension();

  private static final SiteId SITE = SiteId.of("health-site");
  private static final Duration PROBE_TIMEOUT = Duration.ofSeconds(1);

  @TempDir Path dir;

  @Test
  @DisplayName(
      "health goes UP, DEGRADED as the relay falls behind, DOWN while PostgreSQL is stopped, UP after its restart")
  void degradedThenDownThenUp() throws Exception {
    PostgresServer server = PostgresExtension.server();
    CountDownLatch gate = new CountDownLatch(1);
    ExecutorEngine engine = new ExecutorEngine();
    // The host's workflow holds its run until the gate opens: the engine has not accepted the
    // event (an executor run is accepted when it ends), so it stays undelivered and ages.
    engine.register(
        WorkflowDefinition.named("notify")
            .keyedBy(StandardEvents.KEY_SITE)
            .handler(ctx -> gate.await()));
    try (PostgresStore store =
            PostgresStore.builder()
                .jdbcUrl(PG.jdbcUrl())
                .username(PG.username())
                .password(PG.password())
                .schema("health_outage")
                .connectionTimeout(Duration.ofSeconds(2))
                .migrateOnStart(true)
                .build();
        DurableDeploy plane =
            DurableDeploy.builder()
                .store(store)
                .blobRoot(dir.resolve("blobs"))
                .engine(engine)
                .options(DeployOptions.builder().importSitesOnStart(false).build())
                .route("build.finished", "notify")
                .health(new HealthOptions(PROBE_TIMEOUT, Duration.ofMillis(500)))
                .build()) {
      plane.start();
      await("UP once started")
          .atMost(Duration.ofSeconds(30))
          .until(() -> plane.health().status() == HealthStatus.UP);

      store.outbox().append(new NewEvent(SITE, "build.finished", Map.of("site", SITE.value())));
      HealthReport behind =
          await("DEGRADED as the relay falls behind")
              .atMost(Duration.ofSeconds(30))
              .until(
                  plane::health,
                  r -> r.component(HealthReport.RELAY).status() == HealthStatus.DEGRADED);
      assertThat(behind.component(HealthReport.RELAY).status()).isEqualTo(HealthStatus.DEGRADED);
      assertThat(
              (Long) behind.component(HealthReport.RELAY).details().get("oldestUndeliveredAgeMs"))
          .isGreaterThan(500L);
      assertThat(behind.component(HealthReport.OUTBOX).details()).containsEntry("undelivered", 1L);
      assertThat(behind.status()).isEqualTo(HealthStatus.DEGRADED);
      assertThat(behind.component(HealthReport.METADATA).status()).isEqualTo(HealthStatus.UP);

      server.stop();
      try {
        for (int call = 0; call < 2; call++) {
          long start = System.nanoTime();
          HealthReport down = plane.health();
          Duration took = Duration.ofNanos(System.nanoTime() - start);
          // Each call returns about one probe deadline later, whatever the driver does.
          assertThat(took).isLessThan(PROBE_TIMEOUT.plusSeconds(1));
          assertThat(down.status()).isEqualTo(HealthStatus.DOWN);
          for (String part :
              List.of(
                  HealthReport.METADATA,
                  HealthReport.OUTBOX,
                  HealthReport.SITE_LOCKS,
                  HealthReport.LEASES,
                  HealthReport.RELAY)) {
            Health h = down.component(part);
            assertThat(h.status()).as(part + " " + h).isEqualTo(HealthStatus.DOWN);
            h.details()
                .values()
                .forEach(v -> assertThat(String.valueOf(v)).doesNotContain(PG.password()));
          }
          assertThat(down.component(HealthReport.BLOB_STORE).status()).isEqualTo(HealthStatus.UP);
          assertThat(down.component(HealthReport.ENGINE).status()).isEqualTo(HealthStatus.UP);
        }
      } finally {
        server.restart();
      }

      gate.countDown();
      HealthReport up =
          await("UP after the restart, the relay caught up")
              .atMost(Duration.ofSeconds(90))
              .until(plane::health, r -> r.status() == HealthStatus.UP);
      assertThat(up.component(HealthReport.OUTBOX).details()).containsEntry("undelivered", 0L);
    }
  }
}
