package dev.durabledeploy.git.jgit;

import dev.durabledeploy.spi.exception.ConfigurationException;
import dev.durabledeploy.spi.git.RepoRef;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Comparator;
import java.util.UUID;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Where things live under the clone root (see {@link JGitRepoSource}'s class comment, "Layout"):
 * the trees, their completion markers and lock files, and the temp directory of clones in progress
 * on the same filesystem, so a finished clone moves into place atomically.
 */
final class CacheLayout {

  private static final Logger LOG = LoggerFactory.getLogger(JGitRepoSource.class);

  /** Where one identity's tree, marker and lock live: flat names, so ids never nest. */
  record Slot(String key, Path tree, Path marker, Path lock) {}

  final Path root;
  private final Path markers;
  private final Path locks;
  private final Path tmp;

  CacheLayout(Path configured) {
    try {
      this.root = Files.createDirectories(configured).toRealPath();
      Path durable = root.resolve(".durable");
      this.markers = Files.createDirectories(durable.resolve("complete"));
      this.locks = Files.createDirectories(durable.resolve("locks"));
      this.tmp = Files.createDirectories(durable.resolve("tmp"));
    } catch (IOException e) {
      throw new ConfigurationException(
          "root", "cannot create or open " + configured + ": " + e.getMessage(), e);
    }
  }

  Slot slot(RepoRef repo) {
    String key = repo.cacheKey();
    return new Slot(
        key, root.resolve(key), markers.resolve(key + ".complete"), locks.resolve(key + ".lock"));
  }

  /**
   * A warm hit: the marker, written after the tree was moved into place, and the tree's {@code
   * .git}, since a tree may vanish behind a kept marker (a temp cleaner, an operator, a volume
   * restored in part) and must then be rebuilt, not handed out empty. Two stats, no git call.
   */
  static boolean isComplete(Slot slot) {
    return Files.exists(slot.marker()) && Files.isDirectory(slot.tree().resolve(".git"));
  }

  /**
   * A fresh name in the temp directory. Not named after the cache key: a key of a 200-character id
   * plus a UUID would pass the 255 bytes a file name may have.
   */
  Path temp(String prefix) {
    return tmp.resolve(prefix + UUID.randomUUID());
  }

  /** Removes temp directories of crashed clones: older than {@code age}, so live clones stay. */
  void sweep(Duration age, Clock clock) {
    Instant cutoff = clock.instant().minus(age);
    try (Stream<Path> leftovers = Files.list(tmp)) {
      for (Path p : leftovers.toList()) {
        FileTime modified = Files.getLastModifiedTime(p);
        if (modified.toInstant().isBefore(cutoff)) {
          LOG.info("removing the leftover of a crashed clone: {}", p.getFileName());
          deleteTree(p);
        }
      }
    } catch (IOException e) {
      LOG.warn("sweeping leftover clones under {} failed: {}", tmp, e.getMessage());
    }
  }

  static void deleteQuietly(Path dir) {
    try {
      deleteTree(dir);
    } catch (IOException e) {
      // Swept at the next start.
    }
  }

  static void deleteTree(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> walk = Files.walk(dir)) {
      for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
        try {
          // A hostile repository may hold a link to a file outside the root: File.setWritable
          // would follow it and change that file, so links are deleted as they are.
          if (!Files.isSymbolicLink(p)) {
            p.toFile().setWritable(true);
          }
          Files.delete(p);
        } catch (NoSuchFileException gone) {
          // Deleted by someone else.
        }
      }
    }
  }
}
