package dev.durabledeploy.store.postgres;

import dev.durabledeploy.spi.exception.TransientStoreException;
import java.time.Duration;
import java.util.List;

/**
 * {@link PostgresStore#migrate()} (or {@code migrateOnStart}) waited {@link
 * PostgresStore.Builder#migrationLockTimeout} for the schema's migration lock and another session
 * still held it: another host is migrating, or a host froze while it migrated (its session keeps
 * the lock until the server notices it is gone). The message names the sessions holding it, as
 * {@code pg_locks} and {@code pg_stat_activity} show them, and what to do. Transient: trying again
 * later may succeed.
 */
public class MigrationLockTimeoutException extends TransientStoreException {

  private final List<Integer> holderPids;

  MigrationLockTimeoutException(
      String schema, Duration waited, List<Integer> holderPids, List<String> holders) {
    super(message(schema, waited, holderPids, holders));
    this.holderPids = List.copyOf(holderPids);
  }

  /** The server process ids of the sessions that held the migration lock when the wait ended. */
  public List<Integer> holderPids() {
    return holderPids;
  }

  private static String message(
      String schema, Duration waited, List<Integer> pids, List<String> holders) {
    String who =
        holders.isEmpty()
            ? "by a session this user cannot see in pg_locks (or it was released just now)"
            : "by " + String.join("; ", holders);
    String pid = pids.isEmpty() ? "<pid>" : Integer.toString(pids.get(0));
    return "migrating PostgreSQL schema '"
        + schema
        + "': its migration lock was not free within "
        + waited
        + " (PostgresStore.builder().migrationLockTimeout); it is held "
        + who
        + ". Another host may be migrating: try again, or raise migrationLockTimeout for a long"
        + " migration. If that session is stuck (a host frozen mid-migration), check it with"
        + " SELECT * FROM pg_stat_activity WHERE pid = "
        + pid
        + " and end it with SELECT pg_terminate_backend("
        + pid
        + ")";
  }
}
