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
 * (with {@code LISTEN/NOTIFY}), site locks (advisory locks) and job leases.
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
 * <p><b>Connections.</b> A HikariCP pool (or the host's {@code DataSource}) serves commands; one
 * connection of it is kept for {@code LISTEN} once a relay subscribes. Site locks hold one
 * connection each from a separate lock pool ({@link Builder#lockPoolSize}), so waiting lockers can
 * never exhaust the connections lock holders need.
 */
public final class PostgresStore implements Store {

  public static final String DEFAULT_SCHEMA = "durable_deploy";
  public static final int DEFAULT_POOL_SIZE = 10;
  public static final int DEFAULT_LOCK_POOL_SIZE = 10;
  public static final Duration DEFAULT_CONNECTION_TIMEOUT = Duration.ofSeconds(10);

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
  private final HikariDataSource lockPool;
  private final Jdbi jdbi;
  private final OutboxListener listener;
  private final PgOutbox outbox;
  private final PgMetadataStore metadata;
  private final PgSiteLocks siteLocks;
  private final PgJobLeases jobLeases;

  private PostgresStore(
      Builder b, DataSource dataSource, HikariDataSource ownedPool, HikariDataSource lockPool) {
    this.schema = b.schema;
    this.dataSource = dataSource;
    this.ownedPool = ownedPool;
    this.lockPool = lockPool;
    this.jdbi = Jdbi.create(dataSource).define("schema", schema);
    this.listener = new OutboxListener(dataSource, schema + "_outbox");
    this.outbox = new PgOutbox(jdbi, b.clock, listener);
    this.metadata = new PgMetadataStore(jdbi, outbox, schema);
    this.siteLocks = new PgSiteLocks(lockPool, schema);
    this.jobLeases = new PgJobLeases(jdbi, b.clock);
  }

  public static Builder builder() {
    return new Builder();
  }

  /**
   * Applies missing migrations. Any number of hosts may call it at once: it runs under a session
   * advisory lock on the schema, so they migrate one after another and all but the first find
   * nothing to do.
   */
  public void migrate() {
    migrate(dataSource, schema);
  }

  static void migrate(DataSource dataSource, String schema) {
    long key = Sql.lockKey("migrate", schema, "");
    try (Connection connection = dataSource.getConnection()) {
      try (PreparedStatement lock = connection.prepareStatement("SELECT pg_advisory_lock(?)")) {
        lock.setLong(1, key);
        lock.execute();
      }
      try {
        flyway(dataSource, schema).migrate();
      } finally {
        try (PreparedStatement unlock =
            connection.prepareStatement("SELECT pg_advisory_unlock(?)")) {
          unlock.setLong(1, key);
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
        .load();
  }

  /** Refuses a schema that lacks a migration, naming it and the two ways to apply it. */
  static void requireMigrated(DataSource dataSource, String schema) {
    MigrationInfo[] pending = flyway(dataSource, schema).info().pending();
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
    lockPool.close();
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
    private int lockPoolSize = DEFAULT_LOCK_POOL_SIZE;
    private Duration connectionTimeout = DEFAULT_CONNECTION_TIMEOUT;
    private boolean migrateOnStart;

    private Builder() {}

    /** A {@code jdbc:postgresql://} URL; the store then runs its own HikariCP pool. */
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

    /** The host's own pool instead of a URL. Its connections must have autocommit on. */
    public Builder dataSource(DataSource dataSource) {
      this.dataSource = dataSource;
      return this;
    }

    /** The schema holding every table: a lowercase SQL identifier. */
    public Builder schema(String schema) {
      this.schema = schema;
      return this;
    }

    /** The time source of every stamp the store writes (leases, claims, tombstones). */
    public Builder clock(Clock clock) {
      this.clock = clock;
      return this;
    }

    public Builder poolSize(int poolSize) {
      this.poolSize = poolSize;
      return this;
    }

    /** Site locks held at once across the process (each holds one connection). */
    public Builder lockPoolSize(int lockPoolSize) {
      this.lockPoolSize = lockPoolSize;
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
      HikariDataSource owned = jdbcUrl == null ? null : pool("durable-deploy", jdbcUrl, poolSize);
      DataSource commands = owned != null ? owned : dataSource;
      HikariDataSource locks =
          jdbcUrl != null
              ? pool("durable-deploy-locks", jdbcUrl, lockPoolSize)
              : wrap("durable-deploy-locks", dataSource, lockPoolSize);
      try {
        checkReachable(commands);
        if (migrateOnStart) {
          migrate(commands, schema);
        } else {
          requireMigrated(commands, schema);
        }
        return new PostgresStore(this, commands, owned, locks);
      } catch (RuntimeException e) {
        locks.close();
        if (owned != null) {
          owned.close();
        }
        throw e;
      }
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

    private HikariDataSource wrap(String name, DataSource hostPool, int size) {
      HikariConfig config = new HikariConfig();
      config.setPoolName(name);
      config.setDataSource(hostPool);
      config.setMaximumPoolSize(size);
      config.setMinimumIdle(0);
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
