package dev.durabledeploy.testkit.tck;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.durabledeploy.spi.exception.RepoCloneException;
import dev.durabledeploy.spi.git.RepoId;
import dev.durabledeploy.spi.git.RepoRef;
import dev.durabledeploy.spi.git.RepoSource;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The contract of {@link RepoSource}: trees appear complete, once, and come back after eviction or
 * when they vanished behind the source's back; a tree belongs to its id, URL and branch together
 * (another URL or branch for the same id never gets it), and no two ids' trees overlap.
 */
public abstract class RepoSourceContract {

  @TempDir protected Path workDir;
  protected RepoSource source;

  /** A repo source materialising trees under {@code root}. */
  protected abstract RepoSource createSource(Path root);

  /** Creates (or replaces the content of) a remote repository with {@code files} on its branch. */
  protected abstract RepoRef publishRemote(String id, Map<String, String> files);

  /** A reference to a repository that does not exist. */
  protected abstract RepoRef missingRemote(String id);

  /**
   * Creates (or replaces the content of) branch {@code branch} of remote {@code id}; the branch
   * case of the identity contract runs only for fixtures that override this (the default skips it
   * with an aborted assumption).
   */
  protected RepoRef publishRemote(String id, String branch, Map<String, String> files) {
    Assumptions.abort(
        "the fixture does not publish branches: override publishRemote(id, branch, files)");
    throw new IllegalStateException("unreachable");
  }

  @BeforeEach
  void createTheSource() throws Exception {
    source = createSource(Files.createDirectories(workDir.resolve("trees")));
  }

  @AfterEach
  void closeTheSource() {
    source.close();
  }

  @Test
  @DisplayName("ensureClone materialises the branch's files under the root")
  void materialises() throws Exception {
    RepoRef repo = publishRemote("acme/web", Map.of("README.md", "hello", "src/a.txt", "a"));
    Path tree = source.ensureClone(repo);
    assertThat(tree.toAbsolutePath().normalize())
        .startsWith(workDir.resolve("trees").toAbsolutePath().normalize());
    assertThat(Files.readString(tree.resolve("README.md"))).isEqualTo("hello");
    assertThat(Files.readString(tree.resolve("src/a.txt"))).isEqualTo("a");
    assertThat(source.ensureClone(repo)).isEqualTo(tree);
  }

  @Test
  @DisplayName("16 concurrent callers on a cold repo all get the same complete tree")
  void herd() throws Exception {
    RepoRef repo = publishRemote("herd", Map.of("f.txt", "content"));
    ExecutorService pool = Executors.newFixedThreadPool(16);
    CountDownLatch start = new CountDownLatch(1);
    try {
      List<Future<Path>> futures = new ArrayList<>();
      for (int i = 0; i < 16; i++) {
        futures.add(
            pool.submit(
                () -> {
                  start.await();
                  Path tree = source.ensureClone(repo);
                  assertThat(Files.readString(tree.resolve("f.txt"))).isEqualTo("content");
                  return tree;
                }));
      }
      start.countDown();
      Set<Path> trees = new HashSet<>();
      for (Future<Path> f : futures) {
        trees.add(f.get(120, TimeUnit.SECONDS));
      }
      assertThat(trees).hasSize(1);
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  @DisplayName("an evicted tree is gone and comes back on the next ensureClone")
  void evict() throws Exception {
    RepoRef repo = publishRemote("evicted", Map.of("f.txt", "v1"));
    Path tree = source.ensureClone(repo);
    assertThat(source.evict(repo)).isTrue();
    assertThat(Files.exists(tree.resolve("f.txt"))).isFalse();
    assertThat(source.evict(repo)).isFalse();
    assertThat(Files.readString(source.ensureClone(repo).resolve("f.txt"))).isEqualTo("v1");
  }

  @Test
  @DisplayName("a tree that vanished while its marker stayed is rebuilt on the next ensureClone")
  void vanishedTreeIsRebuilt() throws Exception {
    RepoRef repo = publishRemote("vanishing", Map.of("f.txt", "x"));
    Path tree = source.ensureClone(repo);
    // Removed behind the source's back (a temp cleaner, an operator, a volume restored in part).
    try (java.util.stream.Stream<Path> all = Files.walk(tree)) {
      for (Path p : all.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.delete(p);
      }
    }
    assertThat(tree).doesNotExist();
    assertThat(Files.readString(source.ensureClone(repo).resolve("f.txt"))).isEqualTo("x");
  }

  @Test
  @DisplayName("refresh brings the tree to the remote's new head")
  void refresh() throws Exception {
    RepoRef repo = publishRemote("moving", Map.of("f.txt", "v1"));
    source.ensureClone(repo);
    publishRemote("moving", Map.of("f.txt", "v2"));
    Path tree = source.refresh(repo);
    assertThat(Files.readString(tree.resolve("f.txt"))).isEqualTo("v2");
  }

  @Test
  @DisplayName("one id asked with two URLs gets each remote's own tree, never the other's")
  void identityIsTheUrlToo() throws Exception {
    RepoRef x = publishRemote("tenant-x/web", Map.of("owner.txt", "x"));
    RepoRef y = publishRemote("tenant-y/web", Map.of("owner.txt", "y"));
    RepoRef asX = new RepoRef(RepoId.of("acme/web"), x.url(), x.branch());
    RepoRef asY = new RepoRef(RepoId.of("acme/web"), y.url(), y.branch());
    Path treeX = source.ensureClone(asX);
    Path treeY = source.ensureClone(asY);
    assertThat(Files.readString(treeX.resolve("owner.txt"))).isEqualTo("x");
    assertThat(Files.readString(treeY.resolve("owner.txt"))).isEqualTo("y");
    assertThat(Files.readString(source.ensureClone(asX).resolve("owner.txt"))).isEqualTo("x");
    assertThat(source.evict(asY)).isTrue();
    assertThat(Files.readString(source.ensureClone(asX).resolve("owner.txt"))).isEqualTo("x");
  }

  @Test
  @DisplayName("one id and URL asked with two branches gets each branch's own tree")
  void identityIsTheBranchToo() throws Exception {
    RepoRef main = publishRemote("branchy", "main", Map.of("b.txt", "main"));
    RepoRef dev = publishRemote("branchy", "dev", Map.of("b.txt", "dev"));
    assertThat(dev.url()).isEqualTo(main.url());
    assertThat(Files.readString(source.ensureClone(main).resolve("b.txt"))).isEqualTo("main");
    assertThat(Files.readString(source.ensureClone(dev).resolve("b.txt"))).isEqualTo("dev");
    assertThat(Files.readString(source.ensureClone(main).resolve("b.txt"))).isEqualTo("main");
  }

  @Test
  @DisplayName("nested ids acme and acme/web never share, nest or destroy each other's trees")
  void nestedIds() throws Exception {
    RepoRef outer = publishRemote("acme", Map.of("outer.txt", "outer"));
    RepoRef inner = publishRemote("acme/web", Map.of("inner.txt", "inner"));
    Path innerTree = source.ensureClone(inner);
    Path outerTree = source.ensureClone(outer);
    assertThat(innerTree.normalize().startsWith(outerTree.normalize())).isFalse();
    assertThat(outerTree.normalize().startsWith(innerTree.normalize())).isFalse();
    assertThat(source.evict(outer)).isTrue();
    assertThat(Files.readString(innerTree.resolve("inner.txt"))).isEqualTo("inner");
    assertThat(source.ensureClone(inner)).isEqualTo(innerTree);
    assertThat(Files.readString(source.ensureClone(inner).resolve("inner.txt"))).isEqualTo("inner");
    assertThat(source.evict(inner)).isTrue();
    assertThat(Files.readString(source.ensureClone(outer).resolve("outer.txt"))).isEqualTo("outer");
  }

  @Test
  @DisplayName("a missing repository fails with REPO_NOT_FOUND and leaves no tree")
  void missing() {
    RepoRef repo = missingRemote("ghost");
    assertThatThrownBy(() -> source.ensureClone(repo))
        .isInstanceOfSatisfying(
            RepoCloneException.class,
            e -> {
              assertThat(e.reason()).isEqualTo(RepoCloneException.Reason.REPO_NOT_FOUND);
              assertThat(e.repo()).isEqualTo(repo.id());
            });
    assertThat(Files.exists(workDir.resolve("trees").resolve("ghost"))).isFalse();
  }
}
