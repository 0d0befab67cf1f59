package dev.durabledeploy.store.memory;

import dev.durabledeploy.spi.exception.RepoCloneException;
import dev.durabledeploy.spi.git.RepoId;
import dev.durabledeploy.spi.git.RepoRef;
import dev.durabledeploy.spi.git.RepoSource;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

/**
 * The reference repo source: "remotes" are file maps published with {@link #publish}; a clone
 * writes them into a temp directory beside the tree and renames it into place, with a completion
 * marker beside the tree, exactly the protocol a real adapter follows. Trees are named by {@link
 * RepoRef#cacheKey()} (id, URL without secrets, branch), flat under the root, so another URL or
 * branch of one id gets its own tree and nested ids never overlap. A remote published for a {@link
 * RepoRef} is found by its URL and branch; one published for a {@link RepoId} by the id, whatever
 * the URL and branch.
 */
public final class InMemoryRepoSource implements RepoSource {

  private final Path root;
  private final Map<RepoId, Map<String, String>> remotes = new ConcurrentHashMap<>();
  private final Map<String, Map<String, String>> remotesByLocation = new ConcurrentHashMap<>();
  private final Map<String, Object> locks = new ConcurrentHashMap<>();
  private final AtomicInteger clones = new AtomicInteger();

  public InMemoryRepoSource(Path root) {
    this.root = Objects.requireNonNull(root, "root");
  }

  /** Sets the content of a remote repository; the next clone or refresh sees it. */
  public void publish(RepoId id, Map<String, String> files) {
    remotes.put(id, Map.copyOf(files));
  }

  /** Sets the content of the remote at {@code ref}'s URL and branch, for any id asking for it. */
  public void publish(RepoRef ref, Map<String, String> files) {
    remotesByLocation.put(location(ref), Map.copyOf(files));
  }

  private static String location(RepoRef ref) {
    return ref.url().withoutSecrets().value() + "\n" + ref.branch();
  }

  /** How many clones ran, for assertions about warm hits and thundering herds. */
  public int cloneCount() {
    return clones.get();
  }

  private Path tree(RepoRef repo) {
    return root.resolve(repo.cacheKey());
  }

  private Path marker(RepoRef repo) {
    return root.resolve(repo.cacheKey() + ".complete");
  }

  private Object lock(RepoRef repo) {
    return locks.computeIfAbsent(repo.cacheKey(), k -> new Object());
  }

  /** Marker and tree both: a tree removed behind a kept marker is rebuilt, not handed out. */
  private boolean complete(RepoRef repo) {
    return Files.exists(marker(repo)) && Files.isDirectory(tree(repo));
  }

  @Override
  public Path ensureClone(RepoRef repo) {
    Path tree = tree(repo);
    if (complete(repo)) {
      return tree;
    }
    // Lock: one per tree, so concurrent callers for it clone once.
    synchronized (lock(repo)) {
      if (complete(repo)) {
        return tree;
      }
      Map<String, String> files = remotesByLocation.get(location(repo));
      if (files == null) {
        files = remotes.get(repo.id());
      }
      if (files == null) {
        throw new RepoCloneException(
            repo.id(),
            RepoCloneException.Reason.REPO_NOT_FOUND,
            "no repository at " + repo.url().redacted() + "; check the URL and access rights",
            null);
      }
      try {
        Files.createDirectories(tree.getParent());
        Path temp = Files.createTempDirectory(tree.getParent(), ".clone-");
        for (Map.Entry<String, String> file : files.entrySet()) {
          Path target = temp.resolve(file.getKey());
          Files.createDirectories(target.getParent());
          Files.writeString(target, file.getValue(), StandardCharsets.UTF_8);
        }
        Files.deleteIfExists(marker(repo)); // a marker kept by a tree that vanished
        deleteTree(tree);
        Files.move(temp, tree, StandardCopyOption.ATOMIC_MOVE);
        Files.createFile(marker(repo));
        clones.incrementAndGet();
        return tree;
      } catch (IOException e) {
        throw new RepoCloneException(
            repo.id(), RepoCloneException.Reason.OTHER, "writing the tree failed: " + e, e);
      }
    }
  }

  @Override
  public Path refresh(RepoRef repo) {
    synchronized (lock(repo)) {
      evict(repo);
      return ensureClone(repo);
    }
  }

  @Override
  public boolean evict(RepoRef repo) {
    synchronized (lock(repo)) {
      try {
        boolean existed = Files.deleteIfExists(marker(repo));
        return deleteTree(tree(repo)) || existed;
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }

  private static boolean deleteTree(Path tree) throws IOException {
    if (!Files.exists(tree)) {
      return false;
    }
    try (Stream<Path> paths = Files.walk(tree)) {
      for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(p);
      }
    }
    return true;
  }
}
