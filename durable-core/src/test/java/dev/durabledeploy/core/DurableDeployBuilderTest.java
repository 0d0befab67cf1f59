package dev.durabledeploy.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.durabledeploy.spi.engine.EngineStatus;
import dev.durabledeploy.spi.exception.ConfigurationException;
import dev.durabledeploy.store.memory.InMemoryBlobStore;
import dev.durabledeploy.store.memory.InMemoryStore;
import dev.durabledeploy.store.memory.InMemoryWorkflowEngine;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

@DisplayName("DurableDeploy.builder()")
class DurableDeployBuilderTest {

  @TempDir Path dir;

  private static String property(Runnable build) {
    try {
      build.run();
    } catch (ConfigurationException e) {
      return e.property();
    }
    throw new AssertionError("expected a ConfigurationException");
  }

  @Test
  @DisplayName("names the missing or conflicting property")
  void validation() {
    assertThat(property(() -> DurableDeploy.builder().build())).isEqualTo("store");
    assertThat(property(() -> DurableDeploy.builder().store(new InMemoryStore()).build()))
        .isEqualTo("engine");
    assertThat(
            property(
                () ->
                    DurableDeploy.builder()
                        .store(new InMemoryStore())
                        .engine(new InMemoryWorkflowEngine())
                        .build()))
        .isEqualTo("blobStore");
    assertThat(
            property(
                () ->
                    DurableDeploy.builder()
                        .store(new InMemoryStore())
                        .engine(new InMemoryWorkflowEngine())
                        .blobStore(new InMemoryBlobStore())
                        .blobRoot(dir)
                        .build()))
        .isEqualTo("blobRoot");
    assertThat(
            property(
                () ->
                    DurableDeploy.builder()
                        .store(new InMemoryStore())
                        .engine(new InMemoryWorkflowEngine())
                        .blobRoot(dir)
                        .instanceId("bad\nid")
                        .build()))
        .isEqualTo("instanceId");
  }

  @Test
  @DisplayName("option values are validated with the property's name")
  void options() {
    DeployOptions d = DeployOptions.defaults();
    assertThatThrownBy(() -> d.toBuilder().keepLatest(-1).build())
        .isInstanceOfSatisfying(
            ConfigurationException.class, e -> assertThat(e.property()).isEqualTo("keepLatest"));
    assertThatThrownBy(() -> d.toBuilder().grace(Duration.ofHours(-1)).build())
        .isInstanceOfSatisfying(
            ConfigurationException.class, e -> assertThat(e.property()).isEqualTo("grace"));
    assertThatThrownBy(
            () -> d.toBuilder().gcDebounce(Duration.ofSeconds(10), Duration.ofSeconds(1)).build())
        .isInstanceOfSatisfying(
            ConfigurationException.class, e -> assertThat(e.property()).isEqualTo("gcMaxDelay"));
    assertThat(d.keepLatest()).isEqualTo(3);
    assertThat(d.grace()).isEqualTo(Duration.ofHours(72));
    assertThat(d.retention()).isEqualTo(Duration.ofDays(7));
    assertThat(d.releasedAliasTtl()).isEqualTo(Duration.ofSeconds(15));
    assertThat(d.lockTimeout()).isEqualTo(Duration.ofSeconds(30));
    assertThat(d.gcSweepCron()).isEqualTo("37 2 * * *").isEqualTo(DurableDeploy.GC_SWEEP_CRON);
    assertThatThrownBy(() -> d.toBuilder().gcSweepCron(" ").build())
        .isInstanceOfSatisfying(
            ConfigurationException.class, e -> assertThat(e.property()).isEqualTo("gcSweepCron"));
  }

  @Test
  @DisplayName("a GC sweep schedule the engine cannot parse fails start() naming gcSweepCron")
  void badSweepCron() {
    DurableDeploy plane =
        DurableDeploy.builder()
            .store(new InMemoryStore())
            .engine(new InMemoryWorkflowEngine())
            .blobRoot(dir.resolve("blobs"))
            .options(DeployOptions.builder().gcSweepCron("every night").build())
            .build();
    try {
      assertThat(property(plane::start)).isEqualTo("gcSweepCron");
    } finally {
      plane.close();
    }
  }

  @Test
  @DisplayName(
      "start refuses a route to a workflow no engine registered, naming it and the registered ones")
  void unknownRoute() {
    InMemoryWorkflowEngine engine = new InMemoryWorkflowEngine();
    DurableDeploy plane =
        DurableDeploy.builder()
            .store(new InMemoryStore())
            .engine(engine)
            .blobRoot(dir.resolve("blobs"))
            .route("build.finished", "notify-slack")
            .build();
    try {
      assertThatThrownBy(plane::start)
          .isInstanceOfSatisfying(
              ConfigurationException.class,
              e -> {
                assertThat(e.property()).isEqualTo("route");
                assertThat(e.getMessage())
                    .contains("build.finished", "'notify-slack'", "gc-site", "alias-project");
              });
      // Refused before anything runs: the engine was not started, the relay claims nothing.
      assertThat(engine.engineStatus()).isEqualTo(EngineStatus.NEW);
    } finally {
      plane.close();
    }
  }

  @Test
  @DisplayName("start registers the library's workflows and starts the engine; close stops it")
  void lifecycle() {
    InMemoryWorkflowEngine engine = new InMemoryWorkflowEngine();
    DurableDeploy plane =
        DurableDeploy.builder()
            .store(new InMemoryStore())
            .engine(engine)
            .blobRoot(dir.resolve("blobs"))
            .build();
    assertThat(plane.instanceId()).isNotBlank();
    plane.start();
    plane.start();
    assertThat(engine.engineStatus()).isEqualTo(EngineStatus.RUNNING);
    plane.close();
    assertThat(engine.engineStatus()).isEqualTo(EngineStatus.STOPPED);
  }
}
