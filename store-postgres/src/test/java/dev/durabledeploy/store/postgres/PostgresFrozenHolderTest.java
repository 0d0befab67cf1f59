package dev.durabledeploy.store.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.lock.SiteLock;
import dev.durabledeploy.testkit.fixtures.PostgresExtension;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * A holder whose process freezes (SIGSTOP: a GC pause, a hung VM, a host cut off the network) keeps
 * its TCP connection open, so the server would keep a session-held lock until TCP keepalive gives
 * up, two hours by default. A site lock must be free again within its time to live instead.
 */
@DisplayName("PostgreSQL site locks when the holder's process freezes")
class PostgresFrozenHolderTest {

  @RegisterExtension static final PostgresExtension PG = new PostgresExtension();
  private static final SiteId SITE = SiteId.of("frozen-site");

  @TempDir Path dir;

  @Test
  @DisplayName("a frozen holder's site is free again within the lock's time to live")
  void frozenHolderFreesTheSite() throws Exception {
    String schema = PgStores.newSchema();
    try (PostgresStore store =
        PostgresStore.builder()
            .jdbcUrl(PG.jdbcUrl())
            .username(PG.username())
            .password(PG.password())
            .schema(schema)
            .migrateOnStart(true)
            .build()) {
      Path log = dir.resolve("holder.log");
      ProcessBuilder pb =
          new ProcessBuilder(
                  ProcessHandle.current().info().command().orElse("java"),
                  "-Xmx128m",
                  "-cp",
                  System.getProperty("java.class.path"),
                  LockHolderMain.class.getName(),
                  PG.jdbcUrl(),
                  PG.username(),
                  schema,
                  SITE.value(),
                  Long.toString(PgStores.LOCK_TTL.toMillis()))
              .redirectErrorStream(true)
              .redirectOutput(log.toFile());
      pb.environment().put("HOLDER_PG_PASSWORD", PG.password());
      Process holder = pb.start();
      try {
        Awaitility.await("the holder JVM takes the lock")
            .atMost(Duration.ofSeconds(60))
            .until(
                () ->
                    Files.exists(log)
                        && Files.readString(log, StandardCharsets.UTF_8).contains("LOCKED"));
        assertThat(Files.readString(log, StandardCharsets.UTF_8))
            .contains("LOCKED")
            .doesNotContain("NOT LOCKED");
        Process stop = new ProcessBuilder("kill", "-STOP", Long.toString(holder.pid())).start();
        assertThat(stop.waitFor()).isZero();

        Duration bound = PgStores.LOCK_TTL.plusSeconds(10);
        long start = System.nanoTime();
        try (SiteLock taken = store.siteLocks().acquire(SITE, bound)) {
          assertThat(taken.isHeld()).isTrue();
        }
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(bound);
      } finally {
        holder.destroyForcibly();
        holder.waitFor();
      }
    }
  }
}
