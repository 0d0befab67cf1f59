package dev.durabledeploy.core;

import dev.durabledeploy.core.alias.AliasProjection;
import dev.durabledeploy.core.blob.FileSystemBlobStore;
import dev.durabledeploy.core.deploy.DeployService;
import dev.durabledeploy.core.events.AsyncEventBus;
import dev.durabledeploy.core.events.Operations;
import dev.durabledeploy.core.gc.GcSweep;
import dev.durabledeploy.core.gc.SiteGc;
import dev.durabledeploy.core.health.HealthOptions;
import dev.durabledeploy.core.health.PlaneHealth;
import dev.durabledeploy.core.jobs.JobRunner;
import dev.durabledeploy.core.jobs.LeaseSweep;
import dev.durabledeploy.core.outbox.OutboxDeadLetters;
import dev.durabledeploy.core.outbox.OutboxPurge;
import dev.durabledeploy.core.outbox.OutboxRelay;
import dev.durabledeploy.core.purge.TombstonePurge;
import dev.durabledeploy.core.reconcile.Backfill;
import dev.durabledeploy.core.reconcile.Reconciler;
import dev.durabledeploy.core.retry.Retrier;
import dev.durabledeploy.core.retry.Sleeper;
import dev.durabledeploy.core.site.SiteRegistry;
import dev.durabledeploy.spi.Authorizer;
import dev.durabledeploy.spi.Inputs;
import dev.durabledeploy.spi.Store;
import dev.durabledeploy.spi.blob.BlobStore;
import dev.durabledeploy.spi.engine.CronSchedule;
import dev.durabledeploy.spi.engine.EngineStatus;
import dev.durabledeploy.spi.engine.Submission;
import dev.durabledeploy.spi.engine.WorkflowDefinition;
import dev.durabledeploy.spi.engine.WorkflowEngine;
import dev.durabledeploy.spi.events.EventBus;
import dev.durabledeploy.spi.exception.ConfigurationException;
import dev.durabledeploy.spi.exception.InvalidInputException;
import dev.durabledeploy.spi.health.HealthReport;
import dev.durabledeploy.spi.outbox.StandardEvents;
import dev.durabledeploy.spi.retry.RetryPolicy;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.random.RandomGenerator;

/**
 * The deploy plane, assembled in the host's process: one entry point, built once.
 *
 * <pre>{@code
 * DurableDeploy plane = DurableDeploy.builder()
 *     .store(PostgresStore.create(dataSource))       // or store-memory's InMemoryStore
 *     .blobRoot(Path.of("/var/lib/deploys"))          // or .blobStore(S3BlobStore...)
 *     .engine(new ExecutorEngine())                   // any WorkflowEngine
 *     .build();
 * plane.start();
 * Deploy d = plane.deploys().init(site, sha);
 * }</pre>
 *
 * <p>{@link #start()} registers the library's workflows on the engine, starts the engine (if the
 * host has not) and the outbox relay. Register the host's own workflows on the engine, and route
 * event types to them with {@link Builder#route}, before {@code start()}. {@link #close()} stops
 * the relay, then the engine, then the event bus; the store and blob store belong to the host.
 */
public final class DurableDeploy implements AutoCloseable {

  /** How long {@link #close()} waits for in-flight work. */
  public static final Duration DEFAULT_SHUTDOWN_DEADLINE = Duration.ofSeconds(30);

  /** When {@code tombstone-purge} runs: hourly. */
  public static final String PURGE_CRON = "17 * * * *";

  /** When {@code drift-detect} runs: daily, off the hour. */
  public static final String DRIFT_DETECT_CRON = "43 3 * * *";

  /** When {@code outbox-purge} runs: daily. */
  public static final String OUTBOX_PURGE_CRON = "11 4 * * *";

  /** When {@code lease-sweep} runs, besides once at start: every five minutes. */
  public static final String LEASE_SWEEP_CRON = "*/5 * * * *";

  /**
   * When {@code gc-sweep} runs by default: daily ({@link DeployOptions#gcSweepCron()} changes it).
   */
  public static final String GC_SWEEP_CRON = DeployOptions.DEFAULT_GC_SWEEP_CRON;

  private static final org.slf4j.Logger LOG =
      org.slf4j.LoggerFactory.getLogger(DurableDeploy.class);

  private final Store store;
  private final BlobStore blobs;
  private final WorkflowEngine engine;
  private final AsyncEventBus bus;
  private final Operations operations;
  private final Retrier retrier;
  private final DeployOptions options;
  private final DeployService deploys;
  private final SiteRegistry sites;
  private final AliasProjection aliasProjection;
  private final SiteGc gc;
  private final GcSweep gcSweep;
  private final Reconciler reconciler;
  private final Backfill backfill;
  private final TombstonePurge tombstonePurge;
  private final OutboxPurge outboxPurge;
  private final JobRunner jobs;
  private final LeaseSweep leaseSweep;
  private final OutboxRelay relay;
  private final OutboxDeadLetters outboxDeadLetters;
  private final PlaneHealth health;
  private final String instanceId;
  private boolean started;

  private DurableDeploy(Builder b) {
    this.store = b.store;
    this.blobs = b.blobs != null ? b.blobs : new FileSystemBlobStore(b.blobRoot);
    this.engine = b.engine;
    this.options = b.options;
    this.instanceId = b.instanceId;
    this.bus = new AsyncEventBus(b.meters);
    // Every service draws from it on its own threads: one thread-safe source for all.
    RandomGenerator random = SharedRandom.serialised(b.random);
    this.operations = new Operations(bus, b.meters, b.clock, random, b.authorizer);
    this.retrier = new Retrier(b.retryPolicy, random, b.sleeper, b.meters);
    this.deploys = new DeployService(store, blobs, operations, retrier, options, random);
    this.sites = new SiteRegistry(store, blobs, operations, retrier, deploys, options);
    this.aliasProjection =
        new AliasProjection(blobs, store, operations, retrier, options.lockTimeout());
    this.gc = new SiteGc(store, blobs, operations, retrier, options);
    this.backfill = new Backfill(store, blobs, operations, retrier, options.lockTimeout());
    this.reconciler = new Reconciler(store, blobs, operations, retrier, options, b.meters);
    this.tombstonePurge = new TombstonePurge(store, blobs, operations, retrier, options);
    this.outboxPurge = new OutboxPurge(store.outbox(), operations, retrier, options);
    this.jobs = new JobRunner(store.jobLeases(), instanceId, options.leaseTtl());
    this.leaseSweep = new LeaseSweep(store.jobLeases(), instanceId, operations, retrier);
    this.gcSweep = new GcSweep(store, blobs, engine, jobs, operations, retrier, options);
    OutboxRelay.Builder relay =
        OutboxRelay.builder(store.outbox(), engine)
            // Unique per process start, not the host-chosen instanceId (replicas may share one):
            // the store guards claim renewals, acks and releases by this string alone.
            .owner("relay:" + jobs.incarnation())
            .clock(b.clock)
            .retryPolicy(b.retryPolicy)
            .random(random)
            .meterRegistry(b.meters)
            .events(bus)
            .maxFailures(retrier.workflowPolicy().maxAttempts())
            .route(StandardEvents.ALIAS_CHANGED, AliasProjection.WORKFLOW)
            .route(StandardEvents.SITE_CHANGED, SiteGc.WORKFLOW);
    b.routes.forEach(r -> relay.route(r[0], r[1]));
    this.relay = relay.build();
    this.outboxDeadLetters = new OutboxDeadLetters(store.outbox(), this.relay, operations, retrier);
    this.health = new PlaneHealth(store, blobs, engine, this.relay::isRunning, b.clock, b.health);
  }

  public static Builder builder() {
    return new Builder();
  }

  /**
   * Checks that every route leads to a workflow the engine has registered or the library is about
   * to register, sweeps orphaned job leases, registers the library's workflows and their schedules,
   * starts the engine if needed, then the relay.
   *
   * @throws ConfigurationException (property {@code route}) naming a route to a workflow the engine
   *     has not registered, and the registered ones; nothing is registered or started then, so the
   *     host can register the workflow and call {@code start()} again
   */
  public synchronized DurableDeploy start() {
    if (started) {
      return this;
    }
    List<WorkflowDefinition> library =
        List.of(
            aliasProjection.definition(retrier.workflowPolicy()),
            gc.definition(),
            tombstonePurge.definition(),
            reconciler.definition(),
            outboxPurge.definition(),
            leaseSweep.definition(),
            gcSweep.definition(),
            sites.definition());
    // Before any side effect: a route to nothing would only fail until its events are
    // dead-lettered, and a start refused here can be fixed (the workflow registered) and retried.
    relay.checkRoutes(
        library.stream()
            .map(WorkflowDefinition::name)
            .collect(java.util.stream.Collectors.toSet()));
    try {
      leaseSweep.run();
    } catch (RuntimeException e) {
      // Not fatal: the periodic sweep tries again.
      LOG.warn("the start-up lease sweep failed: {}", Operations.describe(e));
    }
    library.forEach(engine::register);
    engine.schedule(CronSchedule.utc(TombstonePurge.WORKFLOW, TombstonePurge.WORKFLOW, PURGE_CRON));
    engine.schedule(CronSchedule.utc(Reconciler.WORKFLOW, Reconciler.WORKFLOW, DRIFT_DETECT_CRON));
    engine.schedule(
        CronSchedule.utc(OutboxPurge.WORKFLOW, OutboxPurge.WORKFLOW, OUTBOX_PURGE_CRON));
    engine.schedule(CronSchedule.utc(LeaseSweep.WORKFLOW, LeaseSweep.WORKFLOW, LEASE_SWEEP_CRON));
    try {
      engine.schedule(CronSchedule.utc(GcSweep.WORKFLOW, GcSweep.WORKFLOW, options.gcSweepCron()));
    } catch (InvalidInputException e) {
      throw new ConfigurationException("gcSweepCron", e.getMessage(), e);
    }
    if (engine.engineStatus() == EngineStatus.NEW) {
      engine.start();
    }
    relay.start();
    if (options.importSitesOnStart()) {
      submitSiteImport();
    }
    started = true;
    return this;
  }

  /** The deploy lifecycle. */
  public DeployService deploys() {
    return deploys;
  }

  /** Sites as records: register, list, update, delete, restore, import. */
  public SiteRegistry sites() {
    return sites;
  }

  /** Once per start, in the background: a failed import only leaves sites unregistered. */
  private void submitSiteImport() {
    try {
      engine
          .submit(
              new Submission(SiteRegistry.WORKFLOW, Map.of(), "site-import:" + jobs.incarnation()))
          .exceptionally(
              e -> {
                LOG.warn("the start-up site import was not submitted: {}", Operations.describe(e));
                return null;
              });
    } catch (RuntimeException e) {
      LOG.warn("the start-up site import was not submitted: {}", Operations.describe(e));
    }
  }

  /** Retention GC: plan, dry-run or run it for a site (it also runs on every site change). */
  public SiteGc gc() {
    return gc;
  }

  /**
   * The GC sweep: {@code gc-site} for every site GC would trash something of (it also runs on
   * {@link DeployOptions#gcSweepCron()}, daily by default), so a GC lost with its host is not lost
   * for good.
   */
  public GcSweep gcSweep() {
    return gcSweep;
  }

  /** Drift between bucket and index: report, or repair with {@code reconcile(site, true)}. */
  public Reconciler reconciler() {
    return reconciler;
  }

  /** Index rows from marked prefixes of an existing bucket. */
  public Backfill backfill() {
    return backfill;
  }

  /** The purge of expired tombstones (it also runs hourly). */
  public TombstonePurge tombstonePurge() {
    return tombstonePurge;
  }

  /** The purge of delivered outbox events (it also runs daily). */
  public OutboxPurge outboxPurge() {
    return outboxPurge;
  }

  /** Runs long jobs under leases, so none runs twice at once nor stays stuck. */
  public JobRunner jobs() {
    return jobs;
  }

  /** Resets orphaned job leases (it runs at start and every five minutes). */
  public LeaseSweep leaseSweep() {
    return leaseSweep;
  }

  /** The lifecycle event bus: subscribe to watch operations, clones and sidecars. */
  public EventBus events() {
    return bus;
  }

  public WorkflowEngine engine() {
    return engine;
  }

  public Store store() {
    return store;
  }

  public BlobStore blobs() {
    return blobs;
  }

  public OutboxRelay relay() {
    return relay;
  }

  /**
   * Outbox events the relay dead-lettered after {@code max(retryPolicy.maxAttempts(), }{@value
   * Retrier#MIN_WORKFLOW_ATTEMPTS}{@code )} failed dispatches: list, retry or discard them.
   */
  public OutboxDeadLetters outboxDeadLetters() {
    return outboxDeadLetters;
  }

  public DeployOptions options() {
    return options;
  }

  /**
   * Probes every component at once and reports each as UP, DEGRADED or DOWN with its details
   * (docs/operations.md, "Health"): the metadata store, the outbox, the site locks, the job leases,
   * the blob store, the engine and the relay. Returns within about {@link
   * HealthOptions#probeTimeout()} whatever the backends do: a probe that has not answered by then
   * reports its component DOWN, and is not started again while it runs. Safe to call from any
   * thread, as often as a readiness probe does; it changes nothing.
   */
  public HealthReport health() {
    return health.check();
  }

  /** This process's id, part of every lease and claim owner it uses. */
  public String instanceId() {
    return instanceId;
  }

  @Override
  public synchronized void close() {
    relay.stop(DEFAULT_SHUTDOWN_DEADLINE);
    if (started) {
      engine.stop(DEFAULT_SHUTDOWN_DEADLINE);
    }
    jobs.close();
    health.close();
    bus.close();
  }

  /** Configures a {@link DurableDeploy}; {@link #build()} validates. */
  public static final class Builder {
    private Store store;
    private BlobStore blobs;
    private Path blobRoot;
    private WorkflowEngine engine;
    private Clock clock = Clock.systemUTC();
    private RandomGenerator random = SharedRandom.THREAD_LOCAL;
    private MeterRegistry meters = new SimpleMeterRegistry();
    private Sleeper sleeper = Sleeper.SYSTEM;
    private RetryPolicy retryPolicy = RetryPolicy.defaults();
    private DeployOptions options = DeployOptions.defaults();
    private String instanceId = defaultInstanceId();
    private Authorizer authorizer = Authorizer.ALLOW_ALL;
    private HealthOptions health = HealthOptions.defaults();
    private final List<String[]> routes = new ArrayList<>();

    private Builder() {}

    /** The metadata store, outbox, locks and leases (required). */
    public Builder store(Store store) {
      this.store = store;
      return this;
    }

    /** Where deploy bytes live; or use {@link #blobRoot} for the embedded filesystem store. */
    public Builder blobStore(BlobStore blobs) {
      this.blobs = blobs;
      return this;
    }

    /** Stores deploy bytes on the local filesystem under {@code root}. */
    public Builder blobRoot(Path root) {
      this.blobRoot = root;
      return this;
    }

    /** The workflow engine that runs background work (required). */
    public Builder engine(WorkflowEngine engine) {
      this.engine = engine;
      return this;
    }

    /** The time source of every decision (expiry, grace, ids); default UTC system clock. */
    public Builder clock(Clock clock) {
      this.clock = clock;
      return this;
    }

    /**
     * The randomness of ids and jitter; inject a seeded one for deterministic tests. It is drawn
     * from on many threads, so the library calls it under a lock, one draw at a time; the default
     * draws from each thread's {@link java.util.concurrent.ThreadLocalRandom}.
     */
    public Builder random(RandomGenerator random) {
      this.random = random;
      return this;
    }

    /** Where meters go; default a {@link SimpleMeterRegistry}. */
    public Builder meterRegistry(MeterRegistry meters) {
      this.meters = meters;
      return this;
    }

    /** How retries wait; tests inject one that does not sleep. */
    public Builder sleeper(Sleeper sleeper) {
      this.sleeper = sleeper;
      return this;
    }

    /** Retries of calls to the store and blob store, and of the library's workflows. */
    public Builder retryPolicy(RetryPolicy retryPolicy) {
      this.retryPolicy = retryPolicy;
      return this;
    }

    public Builder options(DeployOptions options) {
      this.options = options;
      return this;
    }

    /**
     * This process's id (default {@code <hostname>-<pid>-<random>}); it goes into every claim and
     * lease owner, for people reading them. Nothing relies on it being unique, so replicas may
     * share one: every owner the library guards a claim or lease by is the incarnation, this id
     * plus a random suffix new on every start ({@link JobRunner#incarnation()}), registered in the
     * store (see {@link LeaseSweep}); the relay claims as {@code relay:<incarnation>}.
     */
    public Builder instanceId(String instanceId) {
      this.instanceId = instanceId;
      return this;
    }

    /**
     * Who may do what (default {@link Authorizer#ALLOW_ALL}): consulted once at the entry of every
     * mutation the host calls, with the actor of the view it called through ({@code
     * deploys().as(actor)}, {@code gc().as(actor)}, ...), before any lock or write; never for the
     * library's background workflows.
     */
    public Builder authorizer(Authorizer authorizer) {
      this.authorizer = authorizer;
      return this;
    }

    /**
     * The deadline of {@link DurableDeploy#health()}'s probes and the relay lag past which it
     * reports DEGRADED (default {@link HealthOptions#defaults()}).
     */
    public Builder health(HealthOptions health) {
      this.health = health;
      return this;
    }

    /** Delivers outbox events of {@code eventType} to the host's workflow {@code workflow}. */
    public Builder route(String eventType, String workflow) {
      routes.add(new String[] {eventType, workflow});
      return this;
    }

    public DurableDeploy build() {
      require("store", store);
      require("engine", engine);
      require("clock", clock);
      require("random", random);
      require("meterRegistry", meters);
      require("sleeper", sleeper);
      require("retryPolicy", retryPolicy);
      require("options", options);
      require("authorizer", authorizer);
      require("health", health);
      if (blobs == null && blobRoot == null) {
        throw new ConfigurationException(
            "blobStore", "is required: pass a BlobStore or a blobRoot directory");
      }
      if (blobs != null && blobRoot != null) {
        throw new ConfigurationException("blobRoot", "conflicts with blobStore; set one of them");
      }
      try {
        Inputs.requireText("instanceId", instanceId, 100);
      } catch (RuntimeException e) {
        throw new ConfigurationException("instanceId", e.getMessage());
      }
      return new DurableDeploy(this);
    }

    private static void require(String property, Object value) {
      if (value == null) {
        throw new ConfigurationException(property, "is required");
      }
    }

    private static String defaultInstanceId() {
      String host;
      try {
        host = java.net.InetAddress.getLocalHost().getHostName();
      } catch (java.net.UnknownHostException e) {
        host = "host";
      }
      return String.format(
          Locale.ROOT,
          "%s-%d-%08x",
          host.replaceAll("[^A-Za-z0-9.-]", "_"),
          ProcessHandle.current().pid(),
          new SplittableRandom().nextInt());
    }
  }
}
