package dev.durabledeploy.testkit.tck;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.durabledeploy.spi.RepoCloneException;
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
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The contract of {@link RepoSource}: trees appear complete, once, and come back after eviction.
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
  @DisplayName("refresh brings the tree to the remote's new head")
  void refresh() throws Exception {
    RepoRef repo = publishRemote("moving", Map.of("f.txt", "v1"));
    source.ensureClone(repo);
    publishRemote("moving", Map.of("f.txt", "v2"));
    Path tree = source.refresh(repo);
    assertThat(Files.readString(tree.resolve("f.txt"))).isEqualTo("v2");
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
