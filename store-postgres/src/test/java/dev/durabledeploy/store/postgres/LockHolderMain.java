package dev.durabledeploy.store.postgres;

import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.lock.SiteLock;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;

/**
 * The holder JVM of {@link PostgresFrozenHolderTest}: takes one site lock, prints {@code LOCKED}
 * and then holds it until it is killed. Arguments: JDBC URL, user, schema, site, lock time to live
 * in milliseconds; the password comes in the environment variable {@code HOLDER_PG_PASSWORD} so it
 * never shows in a process listing.
 */
public final class LockHolderMain {

  private LockHolderMain() {}

  public static void main(String[] args) throws Exception {
    PostgresStore store =
        PostgresStore.builder()
            .jdbcUrl(args[0])
            .username(args[1])
            .password(System.getenv().getOrDefault("HOLDER_PG_PASSWORD", ""))
            .schema(args[2])
            .lockTtl(Duration.ofMillis(Long.parseLong(args[4])))
            .build();
    SiteLock lock = store.siteLocks().acquire(SiteId.of(args[3]), Duration.ofSeconds(30));
    System.out.println(lock.isHeld() ? "LOCKED" : "NOT LOCKED");
    System.out.flush();
    new CountDownLatch(1).await();
  }
}
