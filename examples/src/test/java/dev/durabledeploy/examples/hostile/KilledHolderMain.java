package dev.durabledeploy.examples.hostile;

import dev.durabledeploy.core.DeployOptions;
import dev.durabledeploy.core.DurableDeploy;
import dev.durabledeploy.engine.executor.ExecutorEngine;
import dev.durabledeploy.spi.JobKey;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.lock.SiteLock;
import dev.durabledeploy.store.postgres.PostgresStore;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;

/**
 * The host process {@link HostileKilledProcessTest} kills: a plane on PostgreSQL that holds a site
 * lock and runs a job under its lease, then waits to be killed. Arguments: JDBC URL, user, schema,
 * site, job key, blob root, instance id; the password comes in {@code HOLDER_PG_PASSWORD}.
 */
public final class KilledHolderMain {

  private KilledHolderMain() {}

  public static void main(String[] args) throws Exception {
    PostgresStore store =
        PostgresStore.builder()
            .jdbcUrl(args[0])
            .username(args[1])
            .password(System.getenv().getOrDefault("HOLDER_PG_PASSWORD", ""))
            .schema(args[2])
            .lockTtl(Duration.ofSeconds(2))
            .build();
    DurableDeploy plane =
        DurableDeploy.builder()
            .store(store)
            .blobRoot(Path.of(args[5]))
            .instanceId(args[6])
            .options(DeployOptions.builder().leaseTtl(Duration.ofSeconds(3)).build())
            .engine(ExecutorEngine.builder().build())
            .build()
            .start();
    SiteLock lock = store.siteLocks().acquire(SiteId.of(args[3]), Duration.ofSeconds(30));
    plane
        .jobs()
        .runExclusive(
            JobKey.of(args[4]),
            job -> {
              System.out.println(lock.isHeld() ? "RUNNING" : "NOT LOCKED");
              System.out.flush();
              try {
                new CountDownLatch(1).await();
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
              return null;
            });
  }
}
