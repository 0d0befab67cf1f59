package dev.durabledeploy.git.jgit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.durabledeploy.spi.events.CloneEvent;
import dev.durabledeploy.spi.exception.RepoCloneException;
import dev.durabledeploy.spi.git.RepoId;
import dev.durabledeploy.spi.git.RepoRef;
import dev.durabledeploy.spi.git.RepoSource;
import dev.durabledeploy.testkit.RecordingEventBus;
import dev.durabledeploy.testkit.fixtures.GitRepos;
import dev.durabledeploy.testkit.tck.RepoSourceContract;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.eclipse.jgit.api.Git;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

@DisplayName("JGitRepoSource on real git repositories")
class JGitRepoSourceTest extends RepoSourceContract {

  private GitRepos repos;
  private final RecordingEventBus events = new RecordingEventBus();
  private JGitRepoSource jgit;

  @Override
  protected RepoSource createSource(Path root) {
    repos = new GitRepos(workDir.resolve("remotes"));
    jgit =
        JGitRepoSource.builder(root)
            .events(events)
            .cloneTimeout(Duration.ofSeconds(60))
            .allowedSchemes(Set.of("https", "ssh", "file"))
            .build();
    return jgit;
  }

  @Override
  protected RepoRef publishRemote(String id, Map<String, String> files) {
    return repos.commit(id, files);
  }

  @Override
  protected RepoRef missingRemote(String id) {
    return repos.missing(id);
  }

  @Override
  protected RepoRef publishRemote(String id, String branch, Map<String, String> files) {
    return repos.commit(id, branch, files);
  }

  @Test
  @DisplayName("a missing repository whose path holds 401 or 403 is not an auth failure")
  void statusCodeLookalikeInPath() {
    // Found by CI: JUnit's temp directory name held "401", and the path is in JGit's message.
    RepoRef repo = repos.missing("x401y-403");
    assertThatThrownBy(() -> source.ensureClone(repo))
        .isInstanceOfSatisfying(
            RepoCloneException.class,
            e -> assertThat(e.reason()).isEqualTo(RepoCloneException.Reason.REPO_NOT_FOUND));
  }

  @Test
  @DisplayName("a warm hit does no git call; the tree is a shallow clone of the branch")
  void warmHit() throws Exception {
    RepoRef repo = repos.commit("warm", Map.of("a.txt", "1"));
    repos.commit("warm", Map.of("a.txt", "2"));
    Path tree = jgit.ensureClone(repo);
    for (int i = 0; i < 1_000; i++) {
      assertThat(jgit.ensureClone(repo)).isEqualTo(tree);
    }
    assertThat(jgit.cloneCount()).isEqualTo(1);
    try (Git git = Git.open(tree.toFile())) {
      assertThat(git.log().call()).hasSize(1);
      assertThat(git.getRepository().getConfig().getString("remote", "origin", "url"))
          .doesNotContain("@");
    }
  }

  @Test
  @DisplayName("100 threads on a cold repository: exactly one clone, one path for all")
  void herd() throws Exception {
    RepoRef repo = repos.commit("herd100", Map.of("f.txt", "x"));
    ExecutorService pool = Executors.newFixedThreadPool(100);
    CountDownLatch start = new CountDownLatch(1);
    try {
      List<Future<Path>> futures = new ArrayList<>();
      for (int i = 0; i < 100; i++) {
        futures.add(
            pool.submit(
                () -> {
                  start.await();
                  return jgit.ensureClone(repo);
                }));
      }
      start.countDown();
      Set<Path> trees = new HashSet<>();
      for (Future<Path> f : futures) {
        trees.add(f.get(120, TimeUnit.SECONDS));
      }
      assertThat(trees).hasSize(1);
      assertThat(jgit.cloneCount()).isEqualTo(1);
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  @DisplayName("two JVMs sharing the directory clone once between them")
  void twoProcesses() throws Exception {
    RepoRef repo = repos.commit("shared", Map.of("f.txt", "x"));
    Path root = workDir.resolve("trees");
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Process child =
        new ProcessBuilder(
                java,
                "-cp",
                System.getProperty("java.class.path"),
                TwoProcessClone.class.getName(),
                root.toString(),
                repo.id().value(),
                repo.url().value())
            .redirectErrorStream(true)
            .start();
    Path mine = jgit.ensureClone(repo);
    assertThat(child.waitFor(120, TimeUnit.SECONDS)).isTrue();
    String output = new String(child.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(output).contains("tree=" + mine);
    int childClones = Integer.parseInt(output.replaceAll("(?s).*clones=(\\d+).*", "$1"));
    assertThat(jgit.cloneCount() + childClones).isEqualTo(1);
  }

  @Test
  @DisplayName("a clone that dies half way leaves no visible tree, and the next call succeeds")
  void crashMidClone() throws Exception {
    RepoRef repo = repos.commit("crashy", Map.of("f.txt", "x", "g.txt", "y"));
    jgit.progressHook =
        (id, task) -> {
          if (task.toLowerCase().contains("checking out")) {
            throw new IllegalStateException("killed during " + task);
          }
        };
    assertThatThrownBy(() -> jgit.ensureClone(repo)).isInstanceOf(RepoCloneException.class);
    assertThat(workDir.resolve("trees").resolve("crashy")).doesNotExist();
    try (Stream<Path> temps =
        Files.list(workDir.resolve("trees").resolve(".durable").resolve("tmp"))) {
      assertThat(temps).isEmpty();
    }
    jgit.progressHook = (id, task) -> {};
    assertThat(Files.readString(jgit.ensureClone(repo).resolve("g.txt"))).isEqualTo("y");
  }

  @Test
  @DisplayName("a missing branch fails with BRANCH_NOT_FOUND and says which")
  void missingBranch() {
    RepoRef repo = repos.commit("branchy", Map.of("f.txt", "x"));
    RepoRef wrong = RepoRef.of(repo.id().value(), repo.url().value(), "release-9");
    assertThatThrownBy(() -> jgit.ensureClone(wrong))
        .isInstanceOfSatisfying(
            RepoCloneException.class,
            e -> {
              assertThat(e.reason()).isEqualTo(RepoCloneException.Reason.BRANCH_NOT_FOUND);
              assertThat(e.getMessage()).contains("release-9").contains("check the branch name");
            });
  }

  @Test
  @DisplayName("a URL with user and password never shows the secret: exception, log or event")
  void credentialsRedacted() {
    RepoRef secret =
        RepoRef.of("private", "https://deployer:s3cr3t-t0ken@127.0.0.1:1/acme/private.git", "main");
    PrintStream original = System.err;
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
    try {
      assertThatThrownBy(() -> jgit.ensureClone(secret))
          .isInstanceOfSatisfying(
              RepoCloneException.class,
              e -> {
                assertThat(e.getMessage()).doesNotContain("s3cr3t-t0ken").contains("127.0.0.1");
                assertThat(e.getCause()).isNull();
                assertThat(e.reason())
                    .isIn(
                        RepoCloneException.Reason.TRANSPORT,
                        RepoCloneException.Reason.AUTH_REQUIRED,
                        RepoCloneException.Reason.TIMEOUT);
              });
    } finally {
      System.setErr(original);
    }
    assertThat(captured.toString(StandardCharsets.UTF_8))
        .contains("clone of private")
        .doesNotContain("s3cr3t-t0ken");
    assertThat(events.events())
        .isNotEmpty()
        .allSatisfy(e -> assertThat(e.toString()).doesNotContain("s3cr3t-t0ken"));
  }

  @Test
  @DisplayName("different repositories clone in parallel (no global lock)")
  void parallelRepos() throws Exception {
    RepoRef a = repos.commit("par-a", Map.of("f.txt", "a"));
    RepoRef b = repos.commit("par-b", Map.of("f.txt", "b"));
    CountDownLatch bStarted = new CountDownLatch(1);
    jgit.progressHook =
        (id, task) -> {
          if (id.equals(RepoId.of("par-b"))) {
            bStarted.countDown();
          } else if (id.equals(RepoId.of("par-a"))) {
            try {
              // A's clone waits inside its own progress until B's clone is running too.
              if (!bStarted.await(60, TimeUnit.SECONDS)) {
                throw new IllegalStateException("B never started while A was cloning");
              }
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
          }
        };
    CompletableFuture<Path> cloneA = CompletableFuture.supplyAsync(() -> jgit.ensureClone(a));
    Path treeB = jgit.ensureClone(b);
    assertThat(cloneA.get(60, TimeUnit.SECONDS)).isNotEqualTo(treeB);
    assertThat(jgit.cloneCount()).isEqualTo(2);
  }

  @Test
  @DisplayName("clone progress is published as events a late subscriber can ask for")
  void progressEvents() {
    RepoRef repo = repos.commit("watched", Map.of("f.txt", "x"));
    jgit.ensureClone(repo);
    assertThat(events.events(CloneEvent.CloneStarted.class)).hasSize(1);
    assertThat(events.events(CloneEvent.CloneProgress.class)).isNotEmpty();
    assertThat(events.latest("repo:watched")).get().isInstanceOf(CloneEvent.CloneSucceeded.class);
  }

  @Test
  @DisplayName(
      "a repository's symlink out of the tree is refused and never gets its target changed;"
          + " links inside are kept")
  void symlinkOutOfTheRoot() throws Exception {
    Path outside = Files.writeString(workDir.resolve("outside.txt"), "not yours");
    Files.setPosixFilePermissions(outside, PosixFilePermissions.fromString("r--r-----"));
    RepoRef repo = repos.commit("hostile", Map.of("index.html", "x"));
    Path remote = Path.of(java.net.URI.create(repo.url().value()));
    try (Git git = Git.open(remote.toFile())) {
      Files.createSymbolicLink(remote.resolve("inside"), Path.of("index.html"));
      git.add().addFilepattern("inside").call();
      git.commit().setMessage("inside").setAuthor("t", "t@example.com").call();
    }
    Path tree = jgit.ensureClone(repo);
    assertThat(Files.isSymbolicLink(tree.resolve("inside"))).isTrue();
    assertThat(tree.resolve("inside")).hasContent("x");
    try (Git git = Git.open(remote.toFile())) {
      Files.createSymbolicLink(remote.resolve("escape"), outside);
      git.add().addFilepattern("escape").call();
      git.commit().setMessage("link").setAuthor("t", "t@example.com").call();
    }
    assertThatThrownBy(() -> jgit.refresh(repo))
        .isInstanceOfSatisfying(
            RepoCloneException.class,
            e -> {
              assertThat(e.reason()).isEqualTo(RepoCloneException.Reason.UNSAFE_CONTENT);
              assertThat(e.getMessage()).contains("'escape'").contains("inside the repository");
            });
    // The refused refresh left the previous tree as it was.
    assertThat(tree.resolve("inside")).hasContent("x");
    assertThat(tree.resolve("escape")).doesNotExist();
    assertThat(jgit.evict(repo)).isTrue();
    assertThat(Files.getPosixFilePermissions(outside))
        .isEqualTo(PosixFilePermissions.fromString("r--r-----"));
    assertThat(Files.readString(outside)).isEqualTo("not yours");
  }
}
