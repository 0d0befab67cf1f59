package dev.durabledeploy.core;

import dev.durabledeploy.spi.ConfigurationException;
import java.time.Duration;

/**
 * The deploy plane's tunables, each with a documented default. Validated when built: a wrong value
 * fails with {@link ConfigurationException} naming the property.
 *
 * @param keepLatest newest active deploys of a site GC never trashes (V2)
 * @param grace a deploy younger than this is never trashed (V3); an unmarked one gets only this
 * @param retention how long a marked deploy is kept at least (V5)
 * @param releasedAliasTtl a deploy released from an alias less than this ago is kept (V4)
 * @param recoveryWindow how long a deleted deploy can be restored before the purge
 * @param lockTimeout how long a mutation waits for its site's lock (E1)
 * @param blastCap most deploys one GC or reconcile run may trash; 0 refuses every destructive step
 * @param maxFileSize largest accepted upload, in bytes
 * @param maxFilesPerDeploy most files one deploy may hold
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
    int maxFilesPerDeploy) {

  public static final int DEFAULT_KEEP_LATEST = 3;
  public static final Duration DEFAULT_GRACE = Duration.ofHours(72);
  public static final Duration DEFAULT_RETENTION = Duration.ofDays(7);
  public static final Duration DEFAULT_RELEASED_ALIAS_TTL = Duration.ofSeconds(15);
  public static final Duration DEFAULT_RECOVERY_WINDOW = Duration.ofDays(7);
  public static final Duration DEFAULT_LOCK_TIMEOUT = Duration.ofSeconds(30);
  public static final int DEFAULT_BLAST_CAP = 100;
  public static final long DEFAULT_MAX_FILE_SIZE = 100L * 1024 * 1024;
  public static final int DEFAULT_MAX_FILES_PER_DEPLOY = 20_000;

  public DeployOptions {
    requireAtLeast("keepLatest", keepLatest, 0);
    requireNotNegative("grace", grace);
    requireNotNegative("retention", retention);
    requireNotNegative("releasedAliasTtl", releasedAliasTtl);
    requireNotNegative("recoveryWindow", recoveryWindow);
    requireNotNegative("lockTimeout", lockTimeout);
    requireAtLeast("blastCap", blastCap, 0);
    if (maxFileSize < 1) {
      throw new ConfigurationException("maxFileSize", "must be at least 1 byte");
    }
    requireAtLeast("maxFilesPerDeploy", maxFilesPerDeploy, 1);
  }

  /** Every default. */
  public static DeployOptions defaults() {
    return new DeployOptions(
        DEFAULT_KEEP_LATEST,
        DEFAULT_GRACE,
        DEFAULT_RETENTION,
        DEFAULT_RELEASED_ALIAS_TTL,
        DEFAULT_RECOVERY_WINDOW,
        DEFAULT_LOCK_TIMEOUT,
        DEFAULT_BLAST_CAP,
        DEFAULT_MAX_FILE_SIZE,
        DEFAULT_MAX_FILES_PER_DEPLOY);
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
}
