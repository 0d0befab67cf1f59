package dev.durabledeploy.store.postgres;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.durabledeploy.spi.Store;
import dev.durabledeploy.spi.exception.ConfigurationException;
import dev.durabledeploy.spi.lease.JobLeases;
import dev.durabledeploy.spi.lock.SiteLocks;
import dev.durabledeploy.spi.metadata.MetadataStore;
import dev.durabledeploy.spi.outbox.NewEvent;
import dev.durabledeploy.spi.outbox.Outbox;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.regex.Pattern;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.MigrationInfo;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The deploy plane's metadata on PostgreSQL: deploy index, aliases, tombstones, audit log, outbox
 * (with {@code LISTEN/NOTIFY}), site locks (leases in a table) and job leases.
 *
 * <pre>{@code
 * PostgresStore store = PostgresStore.builder()
 *     .jdbcUrl("jdbc:postgresql://db:5432/app").username("app").password(secret)
 *     .build();
 * store.migrate();   // or add classpath:db/migration/durable_deploy to the host's own Flyway
 * }</pre>
 *
 * <p><b>Schema.</b> Everything lives in one schema (default {@value #DEFAULT_SCHEMA}), created by
 * the Flyway migrations under {@code classpath:db/migration/durable_deploy}. Either call {@link
 * #migrate()} (safe from any number of hosts at once: it runs under an advisory lock), or let the
 * host's Flyway run them with the placeholder {@code schema} set. {@link Builder#build()} refuses a
 * database that lacks a migration with {@link SchemaNotMigratedException}, unless {@link
 * Builder#migrateOnStart} asked it to migrate.
 *
 * <p><b>Connections</b> (the whole budget: docs/postgres.md). Every store call — a metadata
 * command, an outbox claim or ack, a lease call, a site lock's acquire, renewal or release —
 * borrows one connection for one statement or transaction and gives it back at once; no call ever
 * holds two, so no set of concurrent calls can deadlock on the pool, and a pool of {@code n}
 * connections runs {@code n} calls at a time while the others wait for one (up to the pool's
 * connection timeout). Site locks are leases in a table ({@code site_locks}), so a held lock holds
 * no connection, and a caller waiting for a lock holds none between its tries. The only connection
 * kept is the one for {@code LISTEN}, once a relay subscribes: opened from the URL outside the pool
 * when the store has a {@link Builder#jdbcUrl}, taken from the host's pool (and kept until {@link
 * #close()}) when it has the host's {@link Builder#dataSource}. {@link #migrate()} needs one
 * connection. So beyond the host's own use the store needs, from the host's pool: one connection
 * for {@code LISTEN} plus at least one for its calls — {@value #MIN_HOST_POOL_SIZE} in all, which
 * {@link Builder#build()} checks of a HikariCP pool; more connections only let more calls run at
 * once. Keep the pool's connection timeout well below {@link Builder#lockTtl}: a lock's renewal
 * waits for a connection like any call. Nothing is left on a connection it gives back: no session
 * setting, no advisory lock, no {@code LISTEN}.
 *
 * <p><b>Time.</b> Site locks expire on the database server's clock ({@code clock_timestamp()}). Job
 * leases carry stamps of the writing store's {@link Builder#clock}, which decides expiry for the
 * leases this store instance wrote; whether another instance's lease expired is decided on the
 * server's clock, so a host whose clock runs ahead cannot take a live lease. Outbox claims, deploy
 * and tombstone times use the store's clock.
 */
public final class PostgresStore implements Store {

  private static final Logger LOG = LoggerFactory.getLogger(PostgresStore.class);

  public static final String DEFAULT_SCHEMA = "durable_deploy";
  public static final int DEFAULT_POOL_SIZE = 10;

  /**
   * The former size of a pool of lock connections; site locks hold no connection any more.
   *
   * @deprecated unused: see {@link Builder#lockPoolSize}
   */
  @Deprecated public static final int DEFAULT_LOCK_POOL_SIZE = 10;

  public static final Duration DEFAULT_CONNECTION_TIMEOUT = Duration.ofSeconds(10);

  /**
   * How long {@link #migrate()} waits for the schema's migration lock while another session holds
   * it (another host migrating, or one frozen mid-migration) before it fails with {@link
   * MigrationLockTimeoutException} naming that session: long enough for another host's migration of
   * this library's schema, short enough that a frozen migrator does not hang every other host's
   * start.
   */
  public static final Duration DEFAULT_MIGRATION_LOCK_TIMEOUT = Duration.ofMinutes(1);

  /**
   * A site lock's time to live: a holder that dies, freezes or is cut off keeps its sites locked at
   * most this long; a live holder renews it every third of it. Half the default lock timeout
   * ({@code SiteLocks.DEFAULT_TIMEOUT}), so a caller queued behind a holder that crashed still gets
   * the lock within its timeout.
   */
  public static final Duration DEFAULT_LOCK_TTL = Duration.ofSeconds(15);

  /**
   * The fewest connections a host's pool must have for the store: one kept for {@code LISTEN} once
   * a relay subscribes, and one for the store's calls. The host's own use comes on top.
   */
  public static final int MIN_HOST_POOL_SIZE = 2;

  /** Where the migrations live on the classpath. */
  public static final String MIGRATIONS = "classpath:db/migration/durable_deploy";

  /**
   * The longest schema name: its outbox channel, {@code <schema>_outbox}, must fit PostgreSQL's
   * 63-byte identifiers ({@code pg_notify} refuses a longer channel, {@code LISTEN} truncates it).
   */
  public static final int MAX_SCHEMA_LENGTH = 63 - "_outbox".length();

  private static final Pattern IDENTIFIER =
      Pattern.compile("[a-z_][a-z0-9_]{0," + (MAX_SCHEMA_LENGTH - 1) + "}");

  /** PostgreSQL's reserved key words: not usable unquoted as a schema name. */
  private static final java.util.Set<String> RESERVED =
      java.util.Set.of(
          "all",
          "analyse",
          "analyze",
          "and",
          "any",
          "array",
          "as",
          "asc",
          "asymmetric",
          "authorization",
          "binary",
          "both",
          "case",
          "cast",
          "check",
          "collate",
          "collation",
          "column",
          "concurrently",
          "constraint",
          "create",
          "cross",
          "current_catalog",
          "current_date",
          "current_role",
          "current_schema",
          "current_time",
          "current_timestamp",
          "current_user",
          "default",
          "deferrable",
          "desc",
          "distinct",
          "do",
          "else",
          "end",
          "except",
          "false",
          "fetch",
          "for",
          "foreign",
          "freeze",
          "from",
          "full",
          "grant",
          "group",
          "having",
          "ilike",
          "in",
          "initially",
          "inner",
          "intersect",
          "into",
          "is",
          "isnull",
          "join",
          "lateral",
          "leading",
          "left",
          "like",
          "limit",
          "localtime",
          "localtimestamp",
          "natural",
          "not",
          "notnull",
          "null",
          "offset",
          "on",
          "only",
          "or",
          "order",
          "outer",
          "overlaps",
          "placing",
          "primary",
          "references",
          "returning",
          "right",
          "select",
          "session_user",
          "similar",
          "some",
          "symmetric",
          "system_user",
          "table",
          "tablesample",
          "then",
          "to",
          "trailing",
          "true",
          "union",
          "unique",
          "user",
          "using",
          "variadic",
          "verbose",
          "when",
          "where",
          "window",
          "with");

  private final String schema;
  private final StoreConnections connections;
  private final Duration migrationLockTimeout;
  private final HikariDataSource ownedPool;
  private final Jdbi jdbi;
  private final OutboxListener listener;
  private final PgOutbox outbox;
  private final PgMetadataStore metadata;
  private final PgSiteLocks siteLocks;
  private final PgJobLeases jobLeases;

  private PostgresStore(Builder b, StoreConnections connections, HikariDataSource ownedPool) {
    this.schema = b.schema;
    this.connections = connections;
    this.migrationLockTimeout = b.migrationLockTimeout;
    this.ownedPool = ownedPool;
    // Every handle's connection has autocommit on and READ COMMITTED (StoreConnections).
    this.jdbi = Jdbi.create(connections).define("schema", schema);
    this.listener = new OutboxListener(b.listenConnections(connections), schema + "_outbox");
    this.outbox = new PgOutbox(jdbi, b.clock, listener, schema);
    this.metadata =
        new PgMetadataStore(jdbi, outbox, schema, new PoolStats(connections.dataSource()));
    // One id per store instance: the holder of its site locks and the writer of its leases.
    String instance = instanceId();
    this.siteLocks = new PgSiteLocks(jdbi, schema, instance, b.lockTtl);
    this.jobLeases = new PgJobLeases(jdbi, b.clock, instance);
  }

  private static String instanceId() {
    String host;
    try {
      host = java.net.InetAddress.getLocalHost().getHostName();
    } catch (java.net.UnknownHostException e) {
      host = "host";
    }
    byte[] random = new byte[8];
    new java.security.SecureRandom().nextBytes(random);
    // The host name is for people reading the table; the random part makes it unique.
    return host.replaceAll("[^A-Za-z0-9.-]", "_")
        + "-"
        + ProcessHandle.current().pid()
        + "-"
        + java.util.HexFormat.of().formatHex(random);
  }

  public static Builder builder() {
    return new Builder();
  }

  /**
   * Applies missing migrations, on one connection. Any number of hosts may call it at once: it runs
   * under a session advisory lock on the schema, taken on the very connection Flyway then migrates
   * on (Flyway in its single-connection mode), so they migrate one after another, all but the first
   * find nothing to do, and a pool of one connection suffices. A host waits for the lock at most
   * {@link Builder#migrationLockTimeout} (default {@link #DEFAULT_MIGRATION_LOCK_TIMEOUT}), trying
   * again with backoff, so a host frozen mid-migration cannot hang the others' start. The lock, and
   * the session's {@code idle_session_timeout} (switched off while it waits and migrates, so the
   * server does not end the session between two tries), are reset before the connection goes back.
   *
   * @throws MigrationLockTimeoutException when another session held the lock for the whole wait;
   *     the message names it
   */
  public void migrate() {
    migrate(connections, schema, migrationLockTimeout);
  }

  static void migrate(StoreConnections connections, String schema, Duration lockWait) {
    String what = "migrating schema " + schema;
    Connection connection;
    try {
      connection = connections.openConnection();
    } catch (SQLException e) {
      throw Sql.translate(what, e);
    }
    RuntimeException failure = null;
    String idleTimeout = null;
    try {
      idleTimeout = Sql.suspendIdleSessionTimeout(connection);
      // Lock: the schema's migration lock (a session advisory lock on the schema's key), so
      // concurrent hosts never race creating the schema or applying a migration twice.
      takeMigrationLock(connection, schema, lockWait);
      flyway(new OneConnection(connection), schema).migrate();
    } catch (SQLException e) {
      failure = Sql.translate(what, e);
      throw failure;
    } catch (RuntimeException e) {
      failure = e;
      throw e;
    } finally {
      giveBackMigrationConnection(connections, connection, idleTimeout, failure);
    }
  }

  /** Tries the migration lock with backoff (20 ms doubling to 1 s) until {@code lockWait}. */
  private static void takeMigrationLock(Connection connection, String schema, Duration lockWait)
      throws SQLException {
    long key = Sql.lockKey("migrate", schema, "");
    long deadline = System.nanoTime() + lockWait.toNanos();
    long pauseMillis = 20;
    while (true) {
      try (PreparedStatement lock = connection.prepareStatement("SELECT pg_try_advisory_lock(?)")) {
        lock.setLong(1, key);
        try (java.sql.ResultSet rs = lock.executeQuery()) {
          if (rs.next() && rs.getBoolean(1)) {
            return;
          }
        }
      }
      long leftMillis =
          java.util.concurrent.TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
      if (leftMillis <= 0) {
        List<Integer> pids = new java.util.ArrayList<>();
        List<String> holders = new java.util.ArrayList<>();
        migrationLockHolders(connection, key, pids, holders);
        throw new MigrationLockTimeoutException(schema, lockWait, pids, holders);
      }
      try {
        Thread.sleep(Math.min(pauseMillis, leftMillis));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new dev.durabledeploy.spi.exception.TransientStoreException(
            "migrating schema " + schema + ": interrupted while waiting for the migration lock");
      }
      pauseMillis = Math.min(1000, pauseMillis * 2);
    }
  }

  /**
   * Who holds the advisory lock {@code key}, from {@code pg_locks} and {@code pg_stat_activity}.
   */
  private static void migrationLockHolders(
      Connection connection, long key, List<Integer> pids, List<String> holders)
      throws SQLException {
    // A bigint advisory key shows in pg_locks as classid (high 32 bits), objid (low), objsubid 1.
    try (PreparedStatement query =
        connection.prepareStatement(
            "SELECT l.pid, a.application_name, host(a.client_addr), a.state, a.state_change"
                + " FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid"
                + " WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1"
                + "   AND l.classid::int8 = ? AND l.objid::int8 = ? AND l.pid <> pg_backend_pid()"
                + " ORDER BY l.pid")) {
      query.setLong(1, key >>> 32);
      query.setLong(2, key & 0xffffffffL);
      try (java.sql.ResultSet rs = query.executeQuery()) {
        while (rs.next()) {
          int pid = rs.getInt(1);
          pids.add(pid);
          holders.add(
              "PostgreSQL session pid "
                  + pid
                  + " (application '"
                  + Sql.clean(rs.getString(2) == null ? "" : rs.getString(2))
                  + "', client "
                  + (rs.getString(3) == null ? "local" : rs.getString(3))
                  + ", "
                  + (rs.getString(4) == null ? "state unknown" : "state " + rs.getString(4))
                  + (rs.getObject(5) == null ? "" : " since " + Sql.instant(rs, "state_change"))
                  + ")");
        }
      }
    }
  }

  /**
   * Unlocks (everything, not just our key), restores {@code idle_session_timeout}, and gives the
   * connection back; a failure here never hides the migration's own failure. On a session the
   * server already ended (killed, restarted) there is nothing to release: its locks ended with it.
   */
  private static void giveBackMigrationConnection(
      StoreConnections connections,
      Connection connection,
      String idleTimeout,
      RuntimeException failure) {
    try {
      try (PreparedStatement unlock =
          connection.prepareStatement("SELECT pg_advisory_unlock_all()")) {
        unlock.execute();
      }
      Sql.restoreIdleSessionTimeout(connection, idleTimeout);
    } catch (SQLException e) {
      if (failure != null) {
        failure.addSuppressed(e);
      } else {
        LOG.warn(
            "releasing the migration lock failed on a broken connection (its session's locks"
                + " ended with it): {}",
            Sql.translate("unlocking", e).getMessage());
      }
    } finally {
      try {
        connections.closeConnection(connection);
      } catch (SQLException e) {
        if (failure != null) {
          failure.addSuppressed(e);
        } else {
          LOG.warn(
              "giving the migration connection back failed: {}",
              Sql.translate("closing", e).getMessage());
        }
      }
    }
  }

  private static Flyway flyway(DataSource dataSource, String schema) {
    return Flyway.configure(PostgresStore.class.getClassLoader())
        .dataSource(dataSource)
        .schemas(schema)
        .createSchemas(true)
        .locations(MIGRATIONS)
        .placeholders(Map.of("schema", schema))
        // A session lock instead of a transactional one puts Flyway in its single-connection
        // mode: it then needs one connection, not two.
        .configuration(Map.of("flyway.postgresql.transactional.lock", "false"))
        .load();
  }

  /** Refuses a schema that lacks a migration, naming it and the two ways to apply it. */
  static void requireMigrated(DataSource dataSource, String schema) {
    requireMigrated(new StoreConnections(dataSource, true), schema);
  }

  static void requireMigrated(StoreConnections connections, String schema) {
    MigrationInfo[] pending;
    try {
      Connection connection = connections.openConnection();
      try {
        pending = flyway(new OneConnection(connection), schema).info().pending();
      } finally {
        connections.closeConnection(connection);
      }
    } catch (SQLException e) {
      throw Sql.translate("reading the migrations of schema " + schema, e);
    }
    if (pending.length > 0) {
      List<String> names =
          Arrays.stream(pending)
              .map(m -> "V" + m.getVersion() + "__" + m.getDescription().replace(' ', '_'))
              .toList();
      throw new SchemaNotMigratedException(
          "PostgreSQL schema '"
              + schema
              + "' is missing migration(s) "
              + names
              + ". Run PostgresStore.migrate() once (or build with migrateOnStart(true)), or add '"
              + MIGRATIONS
              + "' to your Flyway locations with placeholder schema="
              + schema
              + ".");
    }
  }

  /**
   * Appends an event on the host's JDBI handle, in the host's transaction: the host's business row
   * and the event commit or roll back together (the transactional-outbox pattern).
   */
  public long appendInTransaction(Handle handle, NewEvent event) {
    Objects.requireNonNull(handle, "handle");
    return outbox.append(handle.define("schema", schema), event);
  }

  /** {@link #appendInTransaction(Handle, NewEvent)} on the host's plain JDBC connection. */
  public long appendInTransaction(Connection connection, NewEvent event) {
    Objects.requireNonNull(connection, "connection");
    return outbox.append(connection, schema, event);
  }

  @Override
  public MetadataStore metadata() {
    return metadata;
  }

  @Override
  public Outbox outbox() {
    return outbox;
  }

  @Override
  public SiteLocks siteLocks() {
    return siteLocks;
  }

  @Override
  public JobLeases jobLeases() {
    return jobLeases;
  }

  public String schema() {
    return schema;
  }

  /** The JDBI instance the store uses, with {@code <schema>} defined. */
  public Jdbi jdbi() {
    return jdbi;
  }

  @Override
  public void close() {
    listener.close();
    siteLocks.close();
    if (ownedPool != null) {
      ownedPool.close();
    }
  }

  /** Configures a {@link PostgresStore}; {@link #build()} validates every setting. */
  public static final class Builder {
    private String jdbcUrl;
    private String username;
    private String password;
    private DataSource dataSource;
    private String schema = DEFAULT_SCHEMA;
    private Clock clock = Clock.systemUTC();
    private int poolSize = DEFAULT_POOL_SIZE;
    private int lockPoolSize = 1;
    private Duration lockTtl = DEFAULT_LOCK_TTL;
    private Duration connectionTimeout = DEFAULT_CONNECTION_TIMEOUT;
    private Duration migrationLockTimeout = DEFAULT_MIGRATION_LOCK_TIMEOUT;
    private boolean migrateOnStart;

    private Builder() {}

    /**
     * A {@code jdbc:postgresql://} URL; the store then runs its own HikariCP pool of {@link
     * #poolSize} connections, plus one connection of its own for {@code LISTEN} once a relay
     * subscribes.
     */
    public Builder jdbcUrl(String jdbcUrl) {
      this.jdbcUrl = jdbcUrl;
      return this;
    }

    public Builder username(String username) {
      this.username = username;
      return this;
    }

    /** Never logged or put in a message. */
    public Builder password(String password) {
      this.password = password;
      return this;
    }

    /**
     * The host's own pool instead of a URL. The store borrows one connection per call and gives it
     * back at once with nothing left on it; it keeps one for {@code LISTEN} once a relay
     * subscribes. Whatever the pool's defaults (autocommit off, REPEATABLE READ or SERIALIZABLE),
     * the store switches each connection it borrows to autocommit and READ COMMITTED for its own
     * use and back to the pool's settings before it gives it back. A HikariCP pool needs a {@code
     * maximumPoolSize} of at least {@value PostgresStore#MIN_HOST_POOL_SIZE} (checked at {@link
     * #build()}) plus what the host uses itself.
     */
    public Builder dataSource(DataSource dataSource) {
      this.dataSource = dataSource;
      return this;
    }

    /** The schema holding every table: a lowercase SQL identifier. */
    public Builder schema(String schema) {
      this.schema = schema;
      return this;
    }

    /**
     * The time source of every stamp the store writes (leases, claims, tombstones). Site locks do
     * not use it: they expire on the database server's clock.
     */
    public Builder clock(Clock clock) {
      this.clock = clock;
      return this;
    }

    /** Connections of the store's own pool (with {@link #jdbcUrl}); one is enough. */
    public Builder poolSize(int poolSize) {
      this.poolSize = poolSize;
      return this;
    }

    /**
     * Formerly the size of a pool of lock connections. Site locks are now leases in a table and
     * hold no connection, so this is validated (at least 1) and otherwise ignored.
     *
     * @deprecated site locks need no connections of their own; remove the call
     */
    @Deprecated
    public Builder lockPoolSize(int lockPoolSize) {
      this.lockPoolSize = lockPoolSize;
      return this;
    }

    /**
     * A site lock's time to live (default {@link PostgresStore#DEFAULT_LOCK_TTL}): a holder that
     * dies, freezes or is cut off from the database keeps its sites locked at most this long; a
     * live holder renews it every third of it (one statement for all its locks). At least 300 ms.
     */
    public Builder lockTtl(Duration lockTtl) {
      this.lockTtl = lockTtl;
      return this;
    }

    public Builder connectionTimeout(Duration connectionTimeout) {
      this.connectionTimeout = connectionTimeout;
      return this;
    }

    /**
     * How long {@link PostgresStore#migrate()} waits for the schema's migration lock held by
     * another session (default {@link PostgresStore#DEFAULT_MIGRATION_LOCK_TIMEOUT}) before it
     * fails with {@link MigrationLockTimeoutException} naming that session. At least 1 s.
     */
    public Builder migrationLockTimeout(Duration migrationLockTimeout) {
      this.migrationLockTimeout = migrationLockTimeout;
      return this;
    }

    /** Runs {@link PostgresStore#migrate()} in {@link #build()} instead of refusing. */
    public Builder migrateOnStart(boolean migrateOnStart) {
      this.migrateOnStart = migrateOnStart;
      return this;
    }

    /**
     * Validates, checks the connection budget and the schema, and returns the store.
     *
     * @throws ConfigurationException naming the property: a bad value, an unreachable database, or
     *     a host pool smaller than {@value PostgresStore#MIN_HOST_POOL_SIZE} connections
     * @throws SchemaNotMigratedException when a migration is missing and {@link #migrateOnStart} is
     *     off
     */
    public PostgresStore build() {
      // The name goes into SQL as it is (JDBI's <schema>, Flyway's ${schema}), so only a plain
      // identifier that needs no quoting is accepted.
      if (schema == null || !IDENTIFIER.matcher(schema).matches()) {
        throw new ConfigurationException(
            "schema",
            "must be a lowercase SQL identifier ([a-z_][a-z0-9_]*) of at most "
                + MAX_SCHEMA_LENGTH
                + " characters, so that its outbox channel <schema>_outbox fits 63 bytes");
      }
      if (RESERVED.contains(schema)) {
        throw new ConfigurationException(
            "schema", "'" + schema + "' is a reserved word in PostgreSQL; choose another name");
      }
      if (schema.startsWith("pg_")) {
        throw new ConfigurationException(
            "schema", "names starting with pg_ are reserved for PostgreSQL's system schemas");
      }
      if (clock == null) {
        throw new ConfigurationException("clock", "is required");
      }
      if (poolSize < 1) {
        throw new ConfigurationException("poolSize", "must be at least 1");
      }
      if (lockPoolSize < 1) {
        throw new ConfigurationException("lockPoolSize", "must be at least 1");
      }
      if (lockTtl == null || lockTtl.toMillis() < 300) {
        throw new ConfigurationException("lockTtl", "must be at least 300 ms");
      }
      if (connectionTimeout == null || connectionTimeout.toMillis() < 250) {
        throw new ConfigurationException("connectionTimeout", "must be at least 250 ms");
      }
      if (migrationLockTimeout == null || migrationLockTimeout.toMillis() < 1000) {
        throw new ConfigurationException("migrationLockTimeout", "must be at least 1 s");
      }
      if ((dataSource == null) == (jdbcUrl == null)) {
        throw new ConfigurationException("jdbcUrl", "set exactly one of jdbcUrl and dataSource");
      }
      if (jdbcUrl != null && !jdbcUrl.startsWith("jdbc:postgresql:")) {
        // The URL itself may carry a password, so it is not repeated.
        throw new ConfigurationException("jdbcUrl", "must start with jdbc:postgresql:");
      }
      if (dataSource != null) {
        requireBudget(dataSource);
      }
      HikariDataSource owned = jdbcUrl == null ? null : pool("durable-deploy", jdbcUrl, poolSize);
      StoreConnections commands =
          owned != null
              ? new StoreConnections(owned, false)
              : new StoreConnections(dataSource, true);
      try {
        checkReachable(commands.dataSource());
        if (migrateOnStart) {
          migrate(commands, schema, migrationLockTimeout);
        } else {
          requireMigrated(commands, schema);
        }
        return new PostgresStore(this, commands, owned);
      } catch (RuntimeException e) {
        if (owned != null) {
          owned.close();
        }
        throw e;
      }
    }

    /**
     * Refuses a host pool the store cannot work in: {@code LISTEN} keeps one connection, so a pool
     * of one would leave none for the store's calls, and every call would wait forever. Only a
     * HikariCP pool says its size; other pools are taken on trust (docs/postgres.md).
     */
    private static void requireBudget(DataSource dataSource) {
      int size;
      try {
        if (!dataSource.isWrapperFor(HikariDataSource.class)) {
          return;
        }
        size = dataSource.unwrap(HikariDataSource.class).getMaximumPoolSize();
      } catch (SQLException e) {
        return;
      }
      if (size < MIN_HOST_POOL_SIZE) {
        throw new ConfigurationException(
            "dataSource",
            "is a HikariCP pool with maximumPoolSize "
                + size
                + "; the store needs at least "
                + MIN_HOST_POOL_SIZE
                + " of its connections (one kept for LISTEN once a relay subscribes, one or more"
                + " for its calls) plus what the host uses itself: raise maximumPoolSize");
      }
    }

    /**
     * The {@code LISTEN} connection: from the URL, outside the pool, when the store has one;
     * otherwise one of the host's, switched to autocommit (a {@code LISTEN} inside a transaction
     * takes effect only at its commit) and given back with the host's settings.
     */
    OutboxListener.ConnectionSource listenConnections(StoreConnections commands) {
      if (jdbcUrl == null) {
        return new OutboxListener.ConnectionSource() {
          @Override
          public Connection open() throws SQLException {
            return commands.openConnection();
          }

          @Override
          public void giveBack(Connection connection) throws SQLException {
            commands.closeConnection(connection);
          }
        };
      }
      String url = jdbcUrl;
      java.util.Properties properties = new java.util.Properties();
      if (username != null) {
        properties.setProperty("user", username);
      }
      if (password != null) {
        properties.setProperty("password", password);
      }
      properties.setProperty(
          "connectTimeout", Long.toString(Math.max(1, connectionTimeout.toSeconds())));
      properties.setProperty("tcpKeepAlive", "true");
      return () -> java.sql.DriverManager.getConnection(url, properties);
    }

    private HikariDataSource pool(String name, String url, int size) {
      HikariConfig config = new HikariConfig();
      config.setPoolName(name);
      config.setJdbcUrl(url);
      config.setUsername(username);
      config.setPassword(password);
      config.setMaximumPoolSize(size);
      config.setMinimumIdle(Math.min(2, size));
      // The settings the store's SQL is written for (StoreConnections), whatever the database's
      // or role's defaults (ALTER DATABASE .. SET default_transaction_isolation).
      config.setAutoCommit(true);
      config.setTransactionIsolation("TRANSACTION_READ_COMMITTED");
      config.setConnectionTimeout(connectionTimeout.toMillis());
      config.setInitializationFailTimeout(-1);
      return new HikariDataSource(config);
    }

    private static void checkReachable(DataSource dataSource) {
      try (Connection c = dataSource.getConnection()) {
        c.isValid(5);
      } catch (SQLException e) {
        throw new ConfigurationException(
            "jdbcUrl",
            "cannot connect to PostgreSQL ("
                + (e.getSQLState() == null ? "no SQLState" : "SQLState " + e.getSQLState())
                + "): check host, port, database, user and password",
            null);
      }
    }
  }
}
