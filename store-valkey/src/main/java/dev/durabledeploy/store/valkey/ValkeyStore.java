package dev.durabledeploy.store.valkey;

import dev.durabledeploy.spi.Inputs;
import dev.durabledeploy.spi.Store;
import dev.durabledeploy.spi.exception.ConfigurationException;
import dev.durabledeploy.spi.exception.TransientStoreException;
import dev.durabledeploy.spi.lease.JobLeases;
import dev.durabledeploy.spi.lock.SiteLocks;
import dev.durabledeploy.spi.metadata.MetadataStore;
import dev.durabledeploy.spi.outbox.Outbox;
import dev.durabledeploy.spi.support.Threads;
import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisConnectionException;
import io.lettuce.core.RedisException;
import io.lettuce.core.RedisURI;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.event.connection.ConnectionActivatedEvent;
import io.lettuce.core.event.connection.ReconnectFailedEvent;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import reactor.core.Disposable;

/**
 * The deploy plane on Valkey, or Redis ≥ 6.2: a whole {@link Store} — {@link #metadata()}, {@link
 * #outbox()} (their commands share Lua atoms, so the outbox is transactional), {@link
 * #siteLocks()}, {@link #jobLeases()} — and a {@link #cached cache} of site metadata with a change
 * bus that can front any metadata store. All share one Lettuce connection (thread-safe, pipelined,
 * reconnected by Lettuce); the change bus and the outbox's wake-ups each open one more when first
 * used. The metadata store and outbox need one primary (standalone or Sentinel), not a cluster.
 * Durability is the server's: with the metadata store on Valkey, run it with {@code appendonly yes}
 * ({@code appendfsync always} to lose nothing acknowledged on a crash).
 *
 * <p>Connection from a URI: {@code redis://[:password@]host[:port][/db]}, or {@code rediss://} for
 * TLS. The password never appears in a log line or an exception; {@link #redactedUri()} is safe to
 * print. While the server is unreachable every call fails at once with {@link
 * TransientStoreException} (Lettuce keeps reconnecting; commands are rejected rather than queued);
 * calls succeed again once it is back. Key layout: see {@code Keys} in the source; every key starts
 * with the namespace (default {@value #DEFAULT_NAMESPACE}), so several planes can share a server.
 *
 * <p>The server, checked at start with {@code CONFIG GET}: {@code maxmemory-policy} must be {@code
 * noeviction}, since any other policy lets a full server drop site locks or rows and outbox events
 * ({@link Builder#allowEvictionPolicy} accepts the risk); a server that hides its settings is
 * refused unless the host vouches for them ({@link Builder#allowUnverifiedServerSettings}); missing
 * or weak persistence is a warning ({@link #startupWarnings()}). At run time, an out-of-memory
 * refusal is a {@link TransientStoreException} naming {@code maxmemory}; a command refused for its
 * credentials (NOAUTH, WRONGPASS) or its ACL (NOPERM) is a {@link ConfigurationException} of {@code
 * uri} naming the fix (a reconnection refused on credentials, e.g. after a password rotation, stays
 * transient and says so); the store's user needs {@code ~<ns>:* &<ns>:* +@read +@write +@scripting
 * +@pubsub +@connection -@dangerous +config|get +time}. An outbox event missing from the server
 * (evicted, or deleted by hand) is skipped, logged and counted ({@link #lostOutboxEvents()}), never
 * a stop.
 *
 * <p>Time: site locks expire on the server's clock ({@code PX}); their {@link
 * dev.durabledeploy.spi.lock.SiteLock#isHeld()} turns false before that expiry, on this host's
 * monotonic clock. Job leases carry stamps of the store's {@link Builder#clock}, which decides
 * expiry for the leases this store instance wrote; another instance's lease expires on the server's
 * clock ({@code TIME}), so a host whose clock runs ahead cannot take a live lease. Outbox claims
 * and metadata stamps use the store's clock.
 */
public final class ValkeyStore implements Store {

  public static final String DEFAULT_NAMESPACE = "durable-deploy";
  public static final Duration DEFAULT_COMMAND_TIMEOUT = Duration.ofSeconds(5);
  public static final Duration DEFAULT_LOCK_TTL = Duration.ofSeconds(30);
  public static final Duration DEFAULT_CACHE_TTL = Duration.ofSeconds(30);

  /**
   * How many audit entries each site keeps, newest first: about 200 KB of a server's memory per
   * site at most, a few months of a site deploying several times a day.
   */
  public static final int DEFAULT_AUDIT_LOG_LENGTH = 1_000;

  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(ValkeyStore.class);

  private static final java.util.regex.Pattern NAMESPACE =
      java.util.regex.Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]*");

  private final RedisClient client;
  private final StatefulRedisConnection<String, String> connection;
  private final String redactedUri;
  private final RedisURI uri;
  private final Valkey valkey;
  private final Keys keys;
  private final Clock clock;
  private final ValkeySiteLocks siteLocks;
  private final ValkeyJobLeases jobLeases;
  private final ValkeyMetadataStore metadata;
  private final AppendWatcher appendWatcher;
  private final ValkeyOutbox outbox;
  private final Disposable reconnects;
  private final List<String> startupWarnings;
  private ChangeBus bus;

  private ValkeyStore(Builder b, RedisURI uri) {
    this.redactedUri = redact(uri);
    this.client = RedisClient.create();
    client.setOptions(
        ClientOptions.builder()
            .autoReconnect(true)
            .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS)
            .timeoutOptions(TimeoutOptions.enabled(b.commandTimeout))
            .build());
    try {
      this.connection = client.connect(uri);
    } catch (RedisConnectionException e) {
      client.shutdown();
      throw connectFailure(e);
    }
    this.uri = uri;
    this.clock = b.clock;
    this.valkey = new Valkey(connection.sync(), uri, b.namespace);
    this.reconnects =
        client
            .getResources()
            .eventBus()
            .get()
            .subscribe(
                event -> {
                  if (event instanceof ReconnectFailedEvent failed) {
                    valkey.reconnectFailed(failed.getCause());
                  } else if (event instanceof ConnectionActivatedEvent) {
                    valkey.reconnected();
                  }
                });
    try {
      this.startupWarnings =
          List.copyOf(
              ServerSettings.check(valkey, b.allowEvictionPolicy, b.allowUnverifiedSettings));
    } catch (RuntimeException refused) {
      reconnects.dispose();
      connection.close();
      client.shutdown();
      throw refused;
    }
    startupWarnings.forEach(w -> LOG.warn("Valkey/Redis server settings: {}", w));
    this.keys = new Keys(b.namespace);
    String instance = instanceId();
    this.siteLocks = new ValkeySiteLocks(valkey, keys, instance, b.lockTtl, new Watchdog());
    this.jobLeases = new ValkeyJobLeases(valkey, keys, b.clock, instance);
    this.metadata = new ValkeyMetadataStore(valkey, keys, b.clock, b.auditLogLength);
    this.appendWatcher = new AppendWatcher(client, uri, valkey, keys.outbox("wake"));
    this.outbox = new ValkeyOutbox(valkey, keys, b.clock, appendWatcher);
  }

  public static Builder builder() {
    return new Builder();
  }

  /**
   * Unique per store instance: the writer its leases are stamped with, the prefix of its lock
   * tokens.
   */
  private static String instanceId() {
    byte[] random = new byte[8];
    new java.security.SecureRandom().nextBytes(random);
    return ProcessHandle.current().pid() + "-" + java.util.HexFormat.of().formatHex(random);
  }

  /** Deploys, aliases, tombstones and the audit log; every command is one conditional script. */
  @Override
  public MetadataStore metadata() {
    return metadata;
  }

  /** The outbox the metadata commands append to, in their own atom. */
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

  /**
   * {@code source} behind a read-through cache of each site's aliases and live deploys, kept in
   * step across hosts by this server's change bus; see {@link CachingMetadataStore}. Use it as the
   * host's metadata store (every write must go through it to be announced). {@code ttl} bounds how
   * stale an entry can be should a change message be lost.
   */
  public synchronized CachingMetadataStore cached(MetadataStore source, Duration ttl) {
    Objects.requireNonNull(source, "source");
    if (ttl == null || ttl.isNegative() || ttl.isZero()) {
      throw new ConfigurationException("ttl", "must be a positive duration");
    }
    if (bus == null) {
      bus = new ChangeBus(client, uri, valkey, keys.changes());
    }
    return new CachingMetadataStore(source, clock, ttl, bus);
  }

  /** {@link #cached(MetadataStore, Duration)} with entries kept at most 30 s. */
  public CachingMetadataStore cached(MetadataStore source) {
    return cached(source, DEFAULT_CACHE_TTL);
  }

  /**
   * The risks found in the server's settings at start, one sentence each, also logged at WARN:
   * persistence missing or weak, or an eviction policy or unread settings that the builder was told
   * to accept. Empty on a server set up as the class comment says.
   */
  public List<String> startupWarnings() {
    return startupWarnings;
  }

  /**
   * How many outbox events of this namespace a claim found missing (evicted, or deleted by hand)
   * and skipped, ever, on any host: each is also logged at WARN with its id and site. Above zero,
   * consumers missed those events; check {@code maxmemory-policy}.
   *
   * @throws TransientStoreException when the server cannot be reached
   */
  public long lostOutboxEvents() {
    return outbox.lost();
  }

  /** The URI with its password replaced by {@code ***}: safe for logs. */
  public String redactedUri() {
    return redactedUri;
  }

  @Override
  public synchronized void close() {
    siteLocks.stop();
    appendWatcher.close();
    if (bus != null) {
      bus.close();
    }
    reconnects.dispose();
    connection.close();
    client.shutdown();
  }

  private RuntimeException connectFailure(RedisConnectionException e) {
    String detail = Valkey.clean(messages(e));
    if (detail.contains("WRONGPASS") || detail.contains("NOAUTH")) {
      return new ConfigurationException(
          "uri", "the server " + redactedUri + " refused the credentials; check the password");
    }
    return new TransientStoreException(
        "connecting to Valkey/Redis "
            + redactedUri
            + " failed ("
            + detail
            + "); check that the server is up and reachable");
  }

  private static String messages(Throwable e) {
    StringBuilder all = new StringBuilder();
    for (Throwable t = e; t != null; t = t.getCause()) {
      all.append(t.getMessage()).append("; ");
    }
    return all.toString();
  }

  static String redact(RedisURI uri) {
    return (uri.isSsl() ? "rediss://" : "redis://")
        + (uri.getPassword() != null && uri.getPassword().length > 0 ? "***@" : "")
        + uri.getHost()
        + ":"
        + uri.getPort()
        + "/"
        + uri.getDatabase();
  }

  /**
   * The lock watchdog's thread. A periodic task that throws is never run again, which would stop
   * extending every lock of this store for good; so a round that fails (e.g. an ACL that refused
   * the extension for a while) is logged and the next round runs as scheduled.
   */
  private static final class Watchdog extends ScheduledThreadPoolExecutor {

    Watchdog() {
      super(1, Threads.daemonNamed("valkey-lock-watchdog"));
    }

    @Override
    public ScheduledFuture<?> scheduleWithFixedDelay(
        Runnable command, long initialDelay, long delay, TimeUnit unit) {
      return super.scheduleWithFixedDelay(
          () -> {
            try {
              command.run();
            } catch (RuntimeException e) {
              LOG.warn(
                  "extending the site locks failed; trying again in the next round: {}",
                  e.getMessage());
            }
          },
          initialDelay,
          delay,
          unit);
    }
  }

  public static final class Builder {
    private String uri;
    private String namespace = DEFAULT_NAMESPACE;
    private Clock clock = Clock.systemUTC();
    private Duration commandTimeout = DEFAULT_COMMAND_TIMEOUT;
    private Duration lockTtl = DEFAULT_LOCK_TTL;
    private int auditLogLength = DEFAULT_AUDIT_LOG_LENGTH;
    private boolean allowEvictionPolicy;
    private boolean allowUnverifiedSettings;

    private Builder() {}

    /** {@code redis://[:password@]host[:port][/db]} or {@code rediss://...} for TLS. */
    public Builder uri(String uri) {
      this.uri = uri;
      return this;
    }

    /** Prefix of every key, so several planes can share one server. */
    public Builder namespace(String namespace) {
      this.namespace = namespace;
      return this;
    }

    /** Where lease times come from (tests move a mutable clock). */
    public Builder clock(Clock clock) {
      this.clock = clock;
      return this;
    }

    /** How long one command may take before it fails as transient. */
    public Builder commandTimeout(Duration commandTimeout) {
      this.commandTimeout = commandTimeout;
      return this;
    }

    /**
     * A site lock's time to live: a holder that dies keeps its sites locked at most this long; a
     * live holder extends it every third of it.
     */
    public Builder lockTtl(Duration lockTtl) {
      this.lockTtl = lockTtl;
      return this;
    }

    /**
     * How many audit entries each site keeps (default {@value #DEFAULT_AUDIT_LOG_LENGTH}): every
     * command that audits trims its site's log to the newest this many. A deleted site keeps its
     * log, trimmed like any other. Hosts that need the whole history ship it elsewhere.
     */
    public Builder auditLogLength(int auditLogLength) {
      this.auditLogLength = auditLogLength;
      return this;
    }

    /**
     * Start even when the server's {@code maxmemory-policy} evicts keys ({@code volatile-*} or
     * {@code allkeys-*}; refused by default). The risk, logged at WARN on every start and listed in
     * {@link ValkeyStore#startupWarnings()}: once {@code maxmemory} is reached, {@code volatile-*}
     * evicts the site locks first (two hosts then write one site) and {@code allkeys-*} evicts any
     * row or outbox event (a lost event is skipped and counted by {@link
     * ValkeyStore#lostOutboxEvents()}). Only for a server that never reaches {@code maxmemory}.
     */
    public Builder allowEvictionPolicy(boolean allow) {
      this.allowEvictionPolicy = allow;
      return this;
    }

    /**
     * Start even when the server does not answer {@code CONFIG GET} (refused by default), as
     * managed services that rename or forbid {@code CONFIG} do, or an ACL without {@code
     * +config|get}: the host vouches that the server runs {@code maxmemory-policy noeviction} (and
     * {@code appendonly yes} where it keeps the metadata or the outbox). Logged at WARN on start.
     */
    public Builder allowUnverifiedServerSettings(boolean allow) {
      this.allowUnverifiedSettings = allow;
      return this;
    }

    /**
     * Connects, checks the server's settings (see the class comment) and returns the store.
     *
     * @throws ConfigurationException for a bad URI or credentials, or a server setting that puts
     *     the store's guarantees at risk, naming the property
     * @throws TransientStoreException when the server cannot be reached
     */
    public ValkeyStore build() {
      if (uri == null || !(uri.startsWith("redis://") || uri.startsWith("rediss://"))) {
        throw new ConfigurationException("uri", "must start with redis:// or rediss://");
      }
      RedisURI parsed;
      try {
        parsed = RedisURI.create(uri);
      } catch (IllegalArgumentException | RedisException e) {
        // The message would echo the URI, password included.
        throw new ConfigurationException("uri", "is not a valid redis:// or rediss:// URI");
      }
      try {
        Inputs.requireMatch(
            "namespace",
            namespace,
            63,
            NAMESPACE,
            "must be a letter or digit, then letters, digits, '.', '_' or '-'");
      } catch (RuntimeException e) {
        throw new ConfigurationException("namespace", e.getMessage());
      }
      Objects.requireNonNull(clock, "clock");
      requirePositive("commandTimeout", commandTimeout);
      requirePositive("lockTtl", lockTtl);
      if (lockTtl.toMillis() < 300) {
        throw new ConfigurationException("lockTtl", "must be at least 300 ms");
      }
      if (auditLogLength < 1 || auditLogLength > 1_000_000) {
        throw new ConfigurationException(
            "auditLogLength", "must be between 1 and 1000000, was " + auditLogLength);
      }
      return new ValkeyStore(this, parsed);
    }

    private static void requirePositive(String property, Duration value) {
      if (value == null || value.isNegative() || value.isZero()) {
        throw new ConfigurationException(property, "must be a positive duration");
      }
    }
  }
}
