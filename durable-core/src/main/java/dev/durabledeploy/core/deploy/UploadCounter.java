package dev.durabledeploy.core.deploy;

import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.blob.BlobKey;
import dev.durabledeploy.spi.exception.InvalidInputException;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;

/**
 * Counts distinct uploaded paths per pending deploy in this process, seeded from a listing the
 * first time a deploy is seen, so the files-per-deploy limit costs no listing per upload; and so
 * tells an upload whether its path exists (a replacement, which takes the site lock) without
 * reading the stream twice. Another host's uploads are not seen: a create of such a path is refused
 * by the store and reported as {@link UploadConflictException}, and the path is known here from
 * then on. Bounded to the most recently used deploys; so the limit it enforces is per host, and
 * finalize enforces it for the deploy (every file its listing finds).
 */
final class UploadCounter {
  private static final int TRACKED_DEPLOYS = 1_000;
  private final int max;
  private final Map<String, Set<String>> paths =
      new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Set<String>> eldest) {
          return size() > TRACKED_DEPLOYS;
        }
      };

  UploadCounter(int max) {
    this.max = max;
  }

  /**
   * Counts {@code key} into its deploy, refusing it past the maximum, and returns whether the
   * deploy already held it (as far as this host knows).
   */
  boolean admit(SiteId site, DeployId id, BlobKey key, Supplier<Set<String>> seed) {
    String deployKey = site + "/" + id;
    Set<String> seen;
    synchronized (paths) {
      seen = paths.get(deployKey);
    }
    if (seen == null) {
      Set<String> seeded = new HashSet<>(seed.get());
      synchronized (paths) {
        seen = paths.computeIfAbsent(deployKey, k -> seeded);
      }
    }
    synchronized (seen) {
      if (seen.contains(key.value())) {
        return true;
      }
      if (seen.size() >= max) {
        throw new InvalidInputException(
            "files", "deploy " + id + " already holds " + max + " files, the maximum");
      }
      seen.add(key.value());
      return false;
    }
  }

  /** Takes back a key {@link #admit} counted whose upload stored nothing. */
  void withdraw(SiteId site, DeployId id, BlobKey key) {
    Set<String> seen;
    synchronized (paths) {
      seen = paths.get(site + "/" + id);
    }
    if (seen != null) {
      synchronized (seen) {
        seen.remove(key.value());
      }
    }
  }

  void forget(SiteId site, DeployId id) {
    synchronized (paths) {
      paths.remove(site + "/" + id);
    }
  }
}
