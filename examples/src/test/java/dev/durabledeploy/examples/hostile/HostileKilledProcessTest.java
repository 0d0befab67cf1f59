package dev.durabledeploy.examples.hostile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.durabledeploy.core.DeployOptions;
import dev.durabledeploy.core.DurableDeploy;
import dev.durabledeploy.core.jobs.JobRunner;
import dev.durabledeploy.engine.executor.ExecutorEngine;
import dev.durabledeploy.spi.JobKey;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.lock.SiteLock;
import dev.durabledeploy.store.postgres.PostgresStore;
import dev.durabledeploy.testkit.fixtures.PostgresExtension;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * A replica killed (SIGKILL) while it holds a site lock and a job lease, with a live replica of the
 * same instance id: the survivor gets both within their TTLs, and the sweep frees nothing live.
 */
@DisplayName("hostile: a process killed with a site lock and a job lease held")
class HostileKilledProcessTest {

  @RegisterExtension static final PostgresExtension PG = new PostgresExtension();

  @TempDir Path dir;

  @Test
  @DisplayName("kill -9 of the holder: its site and its job are free within their TTLs")
  void killedHolder() throws Exception {
    String schema = HostileSupport.newSchema("killed");
    SiteId site = SiteId.of("killed-site");
    JobKey job = JobKey.of("hostile/killed-job");
    try (PostgresStore store =
        PostgresStore.builder()
            .jdbcUrl(PG.jdbcUrl())
            .username(PG.username())
            .password(PG.password())
            .schema(schema)
            .lockTtl(Duration.ofSeconds(2))
            .migrateOnStart(true)
            .build()) {
      Path log = dir.resolve("holder.log");
      ProcessBuilder pb =
          new ProcessBuilder(
                  ProcessHandle.current().info().command().orElse("java"),
                  "-Xmx160m",
                  "-cp",
                  System.getProperty("java.class.path"),
                  KilledHolderMain.class.getName(),
                  PG.jdbcUrl(),
                  PG.username(),
                  schema,
                  site.value(),
                  job.value(),
                  dir.resolve("blobs-holder").toString(),
                  "replica")
              .redirectErrorStream(true)
              .redirectOutput(log.toFile());
      pb.environment().put("HOLDER_PG_PASSWORD", PG.password());
      Process holder = pb.start();
      try (DurableDeploy survivor =
          DurableDeploy.builder()
              .store(store)
              .blobRoot(dir.resolve("blobs"))
              .instanceId("replica") // the same name: host networking, or a name from config
              .options(DeployOptions.builder().leaseTtl(Duration.ofSeconds(3)).build())
              .engine(ExecutorEngine.builder().build())
              .build()) {
        await("the holder runs its job under the site's lock")
            .atMost(Duration.ofSeconds(90))
            .until(
                () ->
                    Files.exists(log)
                        && Files.readString(log, StandardCharsets.UTF_8).contains("RUNNING"));
        // While it lives, the survivor neither runs the job nor frees its lease by a sweep.
        JobRunner.Outcome<String> whileAlive = survivor.jobs().runExclusive(job, j -> "ran");
        assertThat(whileAlive.ran()).isFalse();
        survivor.leaseSweep().run();
        assertThat(survivor.jobs().runExclusive(job, j -> "ran").ran())
            .as("a sweep by a replica of the same name does not free a live lease")
            .isFalse();

        holder.destroyForcibly().waitFor();
        long killedAt = System.nanoTime();
        try (SiteLock lock = store.siteLocks().acquire(site, Duration.ofSeconds(20))) {
          assertThat(lock.isHeld()).isTrue();
        }
        Duration lockFree = Duration.ofNanos(System.nanoTime() - killedAt);
        String ran =
            await("the survivor runs the dead holder's job")
                .atMost(Duration.ofSeconds(20))
                .until(() -> survivor.jobs().runExclusive(job, j -> "ran").result(), "ran"::equals);
        Duration jobFree = Duration.ofNanos(System.nanoTime() - killedAt);
        System.out.println(
            "HostileKilledProcessTest: site free after " + lockFree + ", job after " + jobFree);
        assertThat(ran).isEqualTo("ran");
        assertThat(lockFree).isLessThan(Duration.ofSeconds(5));
        assertThat(jobFree).isLessThan(Duration.ofSeconds(10));
      } finally {
        holder.destroyForcibly();
      }
    }
  }
}
