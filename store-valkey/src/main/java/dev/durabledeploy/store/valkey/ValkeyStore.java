package dev.durabledeploy.store.valkey;

import dev.durabledeploy.spi.ConfigurationException;
import dev.durabledeploy.spi.Inputs;
import dev.durabledeploy.spi.Store;
import dev.durabledeploy.spi.TransientStoreException;
import dev.durabledeploy.spi.lease.JobLeases;
import dev.durabledeploy.spi.lock.SiteLocks;
import dev.durabledeploy.spi.metadata.MetadataStore;
import dev.durabledeploy.spi.outbox.Outbox;
import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisConnectionException;
import io.lettuce.core.RedisException;
import io.lettuce.core.RedisURI;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.api.StatefulRedisConnection;
import java.time.Clock;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.Executors;

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
    this.valkey = new Valkey(connection.sync(), uri);
    this.keys = new Keys(b.namespace);
    this.siteLocks =
        new ValkeySiteLocks(
            valkey,
            keys,
            b.lockTtl,
            Executors.newSingleThreadScheduledExecutor(
                r -> {
                  Thread t = new Thread(r, "valkey-lock-watchdog");
                  t.setDaemon(true);
                  return t;
                }));
    this.jobLeases = new ValkeyJobLeases(valkey, keys, b.clock, instanceId());
    this.metadata = new ValkeyMetadataStore(valkey, keys, b.clock);
    this.appendWatcher = new AppendWatcher(client, uri, valkey, keys.outbox("wake"));
    this.outbox = new ValkeyOutbox(valkey, keys, b.clock, appendWatcher);
  }

  public static Builder builder() {
    return new Builder();
  }

  /** Unique per store instance: the writer its leases are stamped with. */
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

  public static final class Builder {
    private String uri;
    private String namespace = DEFAULT_NAMESPACE;
    private Clock clock = Clock.systemUTC();
    private Duration commandTimeout = DEFAULT_COMMAND_TIMEOUT;
    private Duration lockTtl = DEFAULT_LOCK_TTL;

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
     * Connects and returns the store.
     *
     * @throws ConfigurationException for a bad URI or credentials, naming the property
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
      return new ValkeyStore(this, parsed);
    }

    private static void requirePositive(String property, Duration value) {
      if (value == null || value.isNegative() || value.isZero()) {
        throw new ConfigurationException(property, "must be a positive duration");
      }
    }
  }
}
