package dev.durabledeploy.core;

import dev.durabledeploy.spi.exception.ConfigurationException;
import java.time.Duration;

/**
 * The deploy plane's tunables, each with a documented default. Built with {@link #builder()};
 * validated when built: a wrong value fails with {@link ConfigurationException} naming it.
 *
 * @param keepLatest newest active deploys of a site GC never trashes (V2)
 * @param grace a deploy younger than this is never trashed (V3); an unmarked one gets only this; a
 *     restored deploy is kept this long after its restore
 * @param retention how long a marked deploy is kept at least (V5)
 * @param releasedAliasTtl a deploy released from an alias less than this ago is kept (V4)
 * @param recoveryWindow how long a deleted deploy can be restored before the purge
 * @param lockTimeout how long a mutation waits for its site's lock (E1)
 * @param blastCap most deploys one GC or reconcile run may trash; 0 refuses every destructive step
 * @param maxFileSize largest accepted upload, in bytes
 * @param maxFilesPerDeploy most files one deploy may hold
 * @param gcQuiet GC of a site starts once its changes were quiet this long
 * @param gcMaxDelay ...or at the latest this long after the first change of a burst
 * @param outboxRetention delivered outbox events older than this are purged
 * @param batchSize tombstones purged, or events deleted, per batch of background work
 * @param leaseTtl job leases expire this long after their last heartbeat (E4)
 * @param gcSweepCron when the GC sweep submits {@code gc-site} for every site GC would trash
 *     something of, catching runs lost with their host (a five-field UTC cron expression)
 * @param requireRegisteredSites whether {@code init} refuses a site that is not registered ({@code
 *     SiteNotFoundException}); off by default, so a first deploy registers its site (see {@link
 *     Builder#requireRegisteredSites})
 * @param importSitesOnStart whether {@code start()} submits {@code site-import}, which registers
 *     every site the index or the bucket has and the registry lacks
 */
public record DeployOptions(
    int keepLatest,
    Duration grace,
    Duration retention,
    Duration releasedAliasTtl,
    Duration recoveryWindow,
    Duration lockTimeout,
    int blastCap,
    long maxFileSize,
    int maxFilesPerDeploy,
    Duration gcQuiet,
    Duration gcMaxDelay,
    Duration outboxRetention,
    int batchSize,
    Duration leaseTtl,
    String gcSweepCron,
    boolean requireRegisteredSites,
    boolean importSitesOnStart) {

  public static final int DEFAULT_KEEP_LATEST = 3;
  public static final Duration DEFAULT_GRACE = Duration.ofHours(72);
  public static final Duration DEFAULT_RETENTION = Duration.ofDays(7);
  public static final Duration DEFAULT_RELEASED_ALIAS_TTL = Duration.ofSeconds(15);
  public static final Duration DEFAULT_RECOVERY_WINDOW = Duration.ofDays(7);
  public static final Duration DEFAULT_LOCK_TIMEOUT = Duration.ofSeconds(30);
  public static final int DEFAULT_BLAST_CAP = 100;
  public static final long DEFAULT_MAX_FILE_SIZE = 100L * 1024 * 1024;
  public static final int DEFAULT_MAX_FILES_PER_DEPLOY = 20_000;
  public static final Duration DEFAULT_GC_QUIET = Duration.ofSeconds(5);
  public static final Duration DEFAULT_GC_MAX_DELAY = Duration.ofMinutes(1);
  public static final Duration DEFAULT_OUTBOX_RETENTION = Duration.ofDays(7);
  public static final int DEFAULT_BATCH_SIZE = 100;
  public static final Duration DEFAULT_LEASE_TTL = Duration.ofMinutes(1);

  /** The GC sweep runs daily at 02:37 UTC, away from the other daily schedules. */
  public static final String DEFAULT_GC_SWEEP_CRON = "37 2 * * *";

  public DeployOptions {
    requireAtLeast("keepLatest", keepLatest, 0);
    requireNotNegative("grace", grace);
    requireNotNegative("retention", retention);
    requireNotNegative("releasedAliasTtl", releasedAliasTtl);
    requireNotNegative("recoveryWindow", recoveryWindow);
    requireNotNegative("lockTimeout", lockTimeout);
    requireAtLeast("blastCap", blastCap, 0);
    requireAtLeast("maxFileSize", maxFileSize, 1);
    requireAtLeast("maxFilesPerDeploy", maxFilesPerDeploy, 1);
    requirePositive("gcQuiet", gcQuiet);
    requirePositive("gcMaxDelay", gcMaxDelay);
    if (gcMaxDelay.compareTo(gcQuiet) < 0) {
      throw new ConfigurationException("gcMaxDelay", "must be at least gcQuiet " + gcQuiet);
    }
    requireNotNegative("outboxRetention", outboxRetention);
    requireAtLeast("batchSize", batchSize, 1);
    requirePositive("leaseTtl", leaseTtl);
    if (gcSweepCron == null || gcSweepCron.isBlank()) {
      throw new ConfigurationException(
          "gcSweepCron", "is required: a five-field cron expression such as '0 3 * * *'");
    }
  }

  /** Options without the registry's two switches (the components before they existed). */
  public DeployOptions(
      int keepLatest,
      Duration grace,
      Duration retention,
      Duration releasedAliasTtl,
      Duration recoveryWindow,
      Duration lockTimeout,
      int blastCap,
      long maxFileSize,
      int maxFilesPerDeploy,
      Duration gcQuiet,
      Duration gcMaxDelay,
      Duration outboxRetention,
      int batchSize,
      Duration leaseTtl,
      String gcSweepCron) {
    this(
        keepLatest,
        grace,
        retention,
        releasedAliasTtl,
        recoveryWindow,
        lockTimeout,
        blastCap,
        maxFileSize,
        maxFilesPerDeploy,
        gcQuiet,
        gcMaxDelay,
        outboxRetention,
        batchSize,
        leaseTtl,
        gcSweepCron,
        false,
        true);
  }

  /** Options with the default GC sweep schedule (the components before it existed). */
  public DeployOptions(
      int keepLatest,
      Duration grace,
      Duration retention,
      Duration releasedAliasTtl,
      Duration recoveryWindow,
      Duration lockTimeout,
      int blastCap,
      long maxFileSize,
      int maxFilesPerDeploy,
      Duration gcQuiet,
      Duration gcMaxDelay,
      Duration outboxRetention,
      int batchSize,
      Duration leaseTtl) {
    this(
        keepLatest,
        grace,
        retention,
        releasedAliasTtl,
        recoveryWindow,
        lockTimeout,
        blastCap,
        maxFileSize,
        maxFilesPerDeploy,
        gcQuiet,
        gcMaxDelay,
        outboxRetention,
        batchSize,
        leaseTtl,
        DEFAULT_GC_SWEEP_CRON);
  }

  /** Every default. */
  public static DeployOptions defaults() {
    return builder().build();
  }

  public static Builder builder() {
    return new Builder();
  }

  /** A builder starting from these values. */
  public Builder toBuilder() {
    Builder b = new Builder();
    b.keepLatest = keepLatest;
    b.grace = grace;
    b.retention = retention;
    b.releasedAliasTtl = releasedAliasTtl;
    b.recoveryWindow = recoveryWindow;
    b.lockTimeout = lockTimeout;
    b.blastCap = blastCap;
    b.maxFileSize = maxFileSize;
    b.maxFilesPerDeploy = maxFilesPerDeploy;
    b.gcQuiet = gcQuiet;
    b.gcMaxDelay = gcMaxDelay;
    b.outboxRetention = outboxRetention;
    b.batchSize = batchSize;
    b.leaseTtl = leaseTtl;
    b.gcSweepCron = gcSweepCron;
    b.requireRegisteredSites = requireRegisteredSites;
    b.importSitesOnStart = importSitesOnStart;
    return b;
  }

  private static void requireAtLeast(String property, long value, long min) {
    if (value < min) {
      throw new ConfigurationException(property, "must be at least " + min + ", was " + value);
    }
  }

  private static void requireNotNegative(String property, Duration value) {
    if (value == null) {
      throw new ConfigurationException(property, "is required");
    }
    if (value.isNegative()) {
      throw new ConfigurationException(property, "must not be negative, was " + value);
    }
  }

  private static void requirePositive(String property, Duration value) {
    requireNotNegative(property, value);
    if (value.isZero()) {
      throw new ConfigurationException(property, "must be positive");
    }
  }

  /** Sets options one by one; unset ones keep their {@code DEFAULT_*}. */
  public static final class Builder {
    private int keepLatest = DEFAULT_KEEP_LATEST;
    private Duration grace = DEFAULT_GRACE;
    private Duration retention = DEFAULT_RETENTION;
    private Duration releasedAliasTtl = DEFAULT_RELEASED_ALIAS_TTL;
    private Duration recoveryWindow = DEFAULT_RECOVERY_WINDOW;
    private Duration lockTimeout = DEFAULT_LOCK_TIMEOUT;
    private int blastCap = DEFAULT_BLAST_CAP;
    private long maxFileSize = DEFAULT_MAX_FILE_SIZE;
    private int maxFilesPerDeploy = DEFAULT_MAX_FILES_PER_DEPLOY;
    private Duration gcQuiet = DEFAULT_GC_QUIET;
    private Duration gcMaxDelay = DEFAULT_GC_MAX_DELAY;
    private Duration outboxRetention = DEFAULT_OUTBOX_RETENTION;
    private int batchSize = DEFAULT_BATCH_SIZE;
    private Duration leaseTtl = DEFAULT_LEASE_TTL;
    private String gcSweepCron = DEFAULT_GC_SWEEP_CRON;
    private boolean requireRegisteredSites = false;
    private boolean importSitesOnStart = true;

    private Builder() {}

    public Builder keepLatest(int v) {
      keepLatest = v;
      return this;
    }

    public Builder grace(Duration v) {
      grace = v;
      return this;
    }

    public Builder retention(Duration v) {
      retention = v;
      return this;
    }

    public Builder releasedAliasTtl(Duration v) {
      releasedAliasTtl = v;
      return this;
    }

    public Builder recoveryWindow(Duration v) {
      recoveryWindow = v;
      return this;
    }

    public Builder lockTimeout(Duration v) {
      lockTimeout = v;
      return this;
    }

    public Builder blastCap(int v) {
      blastCap = v;
      return this;
    }

    public Builder maxFileSize(long v) {
      maxFileSize = v;
      return this;
    }

    public Builder maxFilesPerDeploy(int v) {
      maxFilesPerDeploy = v;
      return this;
    }

    public Builder gcDebounce(Duration quiet, Duration maxDelay) {
      gcQuiet = quiet;
      gcMaxDelay = maxDelay;
      return this;
    }

    public Builder outboxRetention(Duration v) {
      outboxRetention = v;
      return this;
    }

    public Builder batchSize(int v) {
      batchSize = v;
      return this;
    }

    public Builder leaseTtl(Duration v) {
      leaseTtl = v;
      return this;
    }

    /**
     * When the GC sweep runs, as a five-field cron expression in UTC; default {@value
     * #DEFAULT_GC_SWEEP_CRON}. The engine validates it when the plane starts.
     */
    public Builder gcSweepCron(String v) {
      gcSweepCron = v;
      return this;
    }

    /**
     * Whether {@code init} refuses a site that is not registered; default off. Off, a first deploy
     * registers its site (the slug as display name, the actor as owner), so a host embedding the
     * plane needs no registry calls and existing hosts keep working; a platform that manages sites
     * as records turns it on, so a typo in a slug fails instead of creating a site.
     */
    public Builder requireRegisteredSites(boolean v) {
      requireRegisteredSites = v;
      return this;
    }

    /**
     * Whether {@code start()} submits the {@code site-import} workflow, which registers every site
     * the index or the bucket has and the registry lacks; default on. It runs in the background,
     * once per start; a bucket walk costs one listing per site.
     */
    public Builder importSitesOnStart(boolean v) {
      importSitesOnStart = v;
      return this;
    }

    public DeployOptions build() {
      return new DeployOptions(
          keepLatest,
          grace,
          retention,
          releasedAliasTtl,
          recoveryWindow,
          lockTimeout,
          blastCap,
          maxFileSize,
          maxFilesPerDeploy,
          gcQuiet,
          gcMaxDelay,
          outboxRetention,
          batchSize,
          leaseTtl,
          gcSweepCron,
          requireRegisteredSites,
          importSitesOnStart);
    }
  }
}
