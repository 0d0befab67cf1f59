package dev.durabledeploy.store.postgres;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.durabledeploy.spi.ConfigurationException;
import dev.durabledeploy.spi.Store;
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
  private final DataSource dataSource;
  private final HikariDataSource ownedPool;
  private final Jdbi jdbi;
  private final OutboxListener listener;
  private final PgOutbox outbox;
  private final PgMetadataStore metadata;
  private final PgSiteLocks siteLocks;
  private final PgJobLeases jobLeases;

  private PostgresStore(Builder b, DataSource dataSource, HikariDataSource ownedPool) {
    this.schema = b.schema;
    this.dataSource = dataSource;
    this.ownedPool = ownedPool;
    this.jdbi = Jdbi.create(dataSource).define("schema", schema);
    this.listener = new OutboxListener(b.listenConnections(dataSource), schema + "_outbox");
    this.outbox = new PgOutbox(jdbi, b.clock, listener);
    this.metadata = new PgMetadataStore(jdbi, outbox, schema);
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
   * find nothing to do, and a pool of one connection suffices. The lock is released before the
   * connection goes back to the pool.
   */
  public void migrate() {
    migrate(dataSource, schema);
  }

  static void migrate(DataSource dataSource, String schema) {
    long key = Sql.lockKey("migrate", schema, "");
    try (Connection connection = dataSource.getConnection()) {
      try {
        // Lock: the schema's migration lock (session advisory), so concurrent hosts never race
        // creating the schema or applying a migration twice.
        try (PreparedStatement lock = connection.prepareStatement("SELECT pg_advisory_lock(?)")) {
          lock.setLong(1, key);
          lock.execute();
        }
        flyway(new OneConnection(connection), schema).migrate();
      } finally {
        // Everything, not just our key: this connection goes back to the pool clean.
        try (PreparedStatement unlock =
            connection.prepareStatement("SELECT pg_advisory_unlock_all()")) {
          unlock.execute();
        }
      }
    } catch (SQLException e) {
      throw Sql.translate("migrating schema " + schema, e);
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
    MigrationInfo[] pending;
    try (Connection connection = dataSource.getConnection()) {
      pending = flyway(new OneConnection(connection), schema).info().pending();
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
     * The host's own pool instead of a URL. Its connections must have autocommit on. The store
     * borrows one connection per call and gives it back at once with nothing left on it; it keeps
     * one for {@code LISTEN} once a relay subscribes. A HikariCP pool needs a {@code
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
      DataSource commands = owned != null ? owned : dataSource;
      try {
        checkReachable(commands);
        if (migrateOnStart) {
          migrate(commands, schema);
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
     * otherwise one of the host's.
     */
    OutboxListener.ConnectionSource listenConnections(DataSource commands) {
      if (jdbcUrl == null) {
        return commands::getConnection;
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
