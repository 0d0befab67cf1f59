package dev.durabledeploy.core.deploy;

import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.blob.BlobInfo;
import dev.durabledeploy.spi.blob.BlobKey;
import dev.durabledeploy.spi.exception.InvalidInputException;
import java.util.HashMap;
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
 *
 * <p>It also remembers, for each file this host stored, the ETag and SHA-256 the blob store
 * reported for the write ({@link #stored}), so that finalize need not ask the store for the digest
 * of a file whose listing shows that very ETag ({@link #sha256}): an ETag changes whenever the
 * content does ({@link BlobInfo#etag()}), so the same ETag means the bytes this host wrote and
 * digested. A file another host wrote, or one whose ETag differs, is not known here and finalize
 * asks the store, as it would without this.
 */
final class UploadCounter {
  private static final int TRACKED_DEPLOYS = 1_000;
  private final int max;
  private final Map<String, Set<String>> paths =
      new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Set<String>> eldest) {
          if (size() > TRACKED_DEPLOYS) {
            digests.remove(eldest.getKey());
            return true;
          }
          return false;
        }
      };

  /** The ETag and SHA-256 of each file this host stored, by deploy and then by key. */
  private final Map<String, Map<String, Stored>> digests = new HashMap<>();

  private record Stored(String etag, String sha256) {}

  /** The lock of each deploy being seeded; guarded by {@link #paths}. */
  private final Map<String, Object> seedings = new HashMap<>();

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
      // Lock: the deploy's seeding, so the uploads that start on a deploy together make one
      // listing between them, not one each.
      Object seeding;
      synchronized (paths) {
        seeding = seedings.computeIfAbsent(deployKey, k -> new Object());
      }
      try {
        synchronized (seeding) {
          synchronized (paths) {
            seen = paths.get(deployKey);
          }
          if (seen == null) {
            Set<String> seeded = new HashSet<>(seed.get());
            synchronized (paths) {
              seen = paths.computeIfAbsent(deployKey, k -> seeded);
            }
          }
        }
      } finally {
        synchronized (paths) {
          seedings.remove(deployKey, seeding);
        }
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
      Map<String, Stored> known = digests.get(site + "/" + id);
      if (known != null) {
        known.remove(key.value());
      }
    }
    if (seen != null) {
      synchronized (seen) {
        seen.remove(key.value());
      }
    }
  }

  /**
   * Records what the store reported for a write of this host into a deploy it tracks (one with both
   * an ETag and a SHA-256; anything else is forgotten, so finalize asks the store).
   */
  void stored(SiteId site, DeployId id, BlobInfo written) {
    String deployKey = site + "/" + id;
    synchronized (paths) {
      if (!paths.containsKey(deployKey)) {
        return;
      }
      Map<String, Stored> known = digests.computeIfAbsent(deployKey, k -> new HashMap<>());
      if (written.etag() != null && written.sha256() != null) {
        known.put(written.key().value(), new Stored(written.etag(), written.sha256()));
      } else {
        known.remove(written.key().value());
      }
    }
  }

  /**
   * The SHA-256 of the file under {@code key} as this host wrote it, if the listing's {@code etag}
   * shows the object is still that write; else null.
   */
  String sha256(SiteId site, DeployId id, BlobKey key, String etag) {
    if (etag == null) {
      return null;
    }
    synchronized (paths) {
      Map<String, Stored> known = digests.get(site + "/" + id);
      Stored stored = known == null ? null : known.get(key.value());
      return stored != null && stored.etag().equals(etag) ? stored.sha256() : null;
    }
  }

  void forget(SiteId site, DeployId id) {
    synchronized (paths) {
      paths.remove(site + "/" + id);
      digests.remove(site + "/" + id);
    }
  }
}
