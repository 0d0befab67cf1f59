package dev.durabledeploy.git.jgit.hostile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpServer;
import dev.durabledeploy.git.jgit.AddressFilter;
import dev.durabledeploy.git.jgit.JGitRepoSource;
import dev.durabledeploy.spi.exception.InvalidInputException;
import dev.durabledeploy.spi.exception.RepoCloneException;
import dev.durabledeploy.spi.git.RepoRef;
import dev.durabledeploy.testkit.fixtures.GitRepos;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.eclipse.jgit.api.Git;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** JGitRepoSource as a host whose tenants choose repo ids and URLs would run it. */
@DisplayName("hostile: JGitRepoSource with tenant-chosen ids, URLs and repositories")
class HostileRepoSourceTest {

  @TempDir Path dir;
  private final List<AutoCloseable> open = new CopyOnWriteArrayList<>();

  @AfterEach
  void closeAll() throws Exception {
    for (AutoCloseable c : open) {
      c.close();
    }
  }

  private JGitRepoSource source(JGitRepoSource.Builder b) {
    JGitRepoSource s = b.build();
    open.add(s);
    return s;
  }

  private JGitRepoSource fileSource(Path root) {
    return source(JGitRepoSource.builder(root).allowedSchemes(Set.of("file")));
  }

  /** An HTTP server whose first request blocks until {@code release}, then answers 404. */
  private HttpServer gated(CountDownLatch arrived, CountDownLatch release, AtomicInteger requests)
      throws Exception {
    HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.createContext(
        "/",
        x -> {
          requests.incrementAndGet();
          arrived.countDown();
          try {
            release.await(60, TimeUnit.SECONDS);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
          x.sendResponseHeaders(404, -1);
          x.close();
        });
    server.setExecutor(java.util.concurrent.Executors.newCachedThreadPool());
    server.start();
    open.add(() -> server.stop(0));
    return server;
  }

  private static Throwable outcome(CompletableFuture<?> f) throws Exception {
    try {
      f.get(60, TimeUnit.SECONDS);
      return null;
    } catch (ExecutionException e) {
      return e.getCause();
    }
  }

  @ParameterizedTest
  @ValueSource(ints = {180, 194, 200})
  @DisplayName("every valid repo id can be cloned, the longest included")
  void longestIdClones(int length) {
    String id = "a".repeat(length);
    RepoRef remote = new GitRepos(dir.resolve("remotes")).commit("long", Map.of("f.txt", "x"));
    RepoRef ref = RepoRef.of(id, remote.url().value(), "main");
    JGitRepoSource jgit = fileSource(dir.resolve("trees"));
    Path tree = jgit.ensureClone(ref);
    assertThat(tree.resolve("f.txt")).hasContent("x");
  }

  @Test
  @DisplayName("evict during a clone of the same ref waits for it instead of throwing")
  void evictDuringClone() throws Exception {
    CountDownLatch arrived = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    HttpServer server = gated(arrived, release, new AtomicInteger());
    JGitRepoSource jgit =
        source(JGitRepoSource.builder(dir.resolve("trees")).allowedSchemes(Set.of("http")));
    RepoRef ref =
        RepoRef.of(
            "acme/web", "http://127.0.0.1:" + server.getAddress().getPort() + "/r.git", "main");
    CompletableFuture<Object> clone = CompletableFuture.supplyAsync(() -> jgit.ensureClone(ref));
    assertThat(arrived.await(60, TimeUnit.SECONDS)).isTrue(); // the clone holds its lock now
    CompletableFuture<Boolean> evict = CompletableFuture.supplyAsync(() -> jgit.evict(ref));
    try {
      evict.get(2, TimeUnit.SECONDS); // done at once: fine if it returned, checked below
    } catch (TimeoutException waiting) {
      // Waiting for the clone: what it should do.
    } catch (ExecutionException ignored) {
      // Checked below.
    }
    release.countDown();
    assertThat(outcome(clone)).isInstanceOf(RepoCloneException.class);
    Throwable evicted = outcome(evict);
    assertThat(evicted).as("evict's failure").isNull();
  }

  @Test
  @DisplayName("two instances on one root in one JVM: the second caller waits, no raw lock error")
  void twoInstancesOneRoot() throws Exception {
    CountDownLatch arrived = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    HttpServer server = gated(arrived, release, new AtomicInteger());
    Path root = dir.resolve("shared");
    JGitRepoSource a = source(JGitRepoSource.builder(root).allowedSchemes(Set.of("http")));
    JGitRepoSource b = source(JGitRepoSource.builder(root).allowedSchemes(Set.of("http")));
    RepoRef ref =
        RepoRef.of(
            "acme/web", "http://127.0.0.1:" + server.getAddress().getPort() + "/r.git", "main");
    CompletableFuture<Object> first = CompletableFuture.supplyAsync(() -> a.ensureClone(ref));
    assertThat(arrived.await(60, TimeUnit.SECONDS)).isTrue();
    CompletableFuture<Object> second = CompletableFuture.supplyAsync(() -> b.ensureClone(ref));
    try {
      second.get(2, TimeUnit.SECONDS);
    } catch (TimeoutException | ExecutionException expectedOrChecked) {
      // Checked below.
    }
    release.countDown();
    assertThat(outcome(first)).isInstanceOf(RepoCloneException.class);
    Throwable secondFailure = outcome(second);
    assertThat(secondFailure)
        .as("the second instance's failure must be a typed clone failure")
        .isInstanceOf(RepoCloneException.class);
  }

  @Test
  @DisplayName("a tenant's tree never exposes files outside itself through a symbolic link")
  void symlinkReadsAnotherTenant() throws Exception {
    GitRepos repos = new GitRepos(dir.resolve("remotes"));
    Path root = dir.resolve("trees");
    JGitRepoSource jgit = fileSource(root);
    RepoRef victim =
        RepoRef.of(
            "victim/app",
            repos.commit("victim", Map.of("secret.txt", "victim-only")).url().value(),
            "main");
    jgit.ensureClone(victim);
    Path hostSecret = Files.writeString(dir.resolve("host-secret.txt"), "host-only");
    RepoRef attacker = repos.commit("attacker", Map.of("index.html", "hi"));
    Path remote = Path.of(java.net.URI.create(attacker.url().value()));
    Files.createDirectories(remote.resolve("sub"));
    Files.writeString(remote.resolve("sub/inner.txt"), "inside");
    // Links that stay inside, and a chain that leaves only through another link: "self" is the
    // repository's root, so "sub/../self/self/.." is the root's parent, where the other tenants'
    // trees are, although the same path read without following links stays inside.
    Files.createSymbolicLink(remote.resolve("sub/up"), Path.of("..", "index.html"));
    Files.createSymbolicLink(remote.resolve("self"), Path.of("."));
    RepoRef attackerRef = RepoRef.of("attacker/site", attacker.url().value(), "main");
    for (String[] link :
        new String[][] {
          {"peek", Path.of("..", victim.cacheKey(), "secret.txt").toString()},
          {"host", hostSecret.toString()},
          {"sub/chain", "../self/self/../" + victim.cacheKey() + "/secret.txt"}
        }) {
      Files.createSymbolicLink(remote.resolve(link[0]), Path.of(link[1]));
      try (Git git = Git.open(remote.toFile())) {
        git.add().addFilepattern(".").call();
        git.commit().setMessage("link " + link[0]).setAuthor("t", "t@example.com").call();
      }
      assertThatThrownBy(() -> jgit.ensureClone(attackerRef))
          .as(link[0])
          .isInstanceOfSatisfying(
              RepoCloneException.class,
              e -> {
                assertThat(e.reason()).isEqualTo(RepoCloneException.Reason.UNSAFE_CONTENT);
                assertThat(e.getMessage())
                    .contains("'" + link[0] + "'")
                    .contains("leaves the working tree")
                    .doesNotContain(dir.toString());
              });
      assertThat(root.resolve(attackerRef.cacheKey())).doesNotExist();
      try (Stream<Path> temps = Files.list(root.resolve(".durable/tmp"))) {
        assertThat(temps).as("half-made trees left behind").isEmpty();
      }
      Files.delete(remote.resolve(link[0]));
      try (Git git = Git.open(remote.toFile())) {
        git.rm().addFilepattern(link[0]).call();
        git.commit().setMessage("unlink " + link[0]).setAuthor("t", "t@example.com").call();
      }
    }
    // Without the escaping links the tree is cloned, and its inside links are kept.
    Path tree = jgit.ensureClone(attackerRef);
    assertThat(Files.isSymbolicLink(tree.resolve("sub/up"))).isTrue();
    assertThat(tree.resolve("sub/up")).hasContent("hi");
    assertThat(tree.resolve("self/sub/inner.txt")).hasContent("inside");
    List<String> escaping = new ArrayList<>();
    try (Stream<Path> all = Files.walk(tree)) {
      for (Path p : all.toList()) {
        if (Files.exists(p) && !p.toRealPath().startsWith(tree.toRealPath())) {
          escaping.add(tree.relativize(p) + " -> " + p.toRealPath());
        }
      }
    }
    assertThat(escaping).as("entries of the tenant's tree that resolve outside it").isEmpty();
  }

  @Test
  @DisplayName("one id with two URLs cloned concurrently: each caller gets its own remote's tree")
  void twoUrlsOneIdConcurrently() throws Exception {
    GitRepos repos = new GitRepos(dir.resolve("remotes"));
    RepoRef x = repos.commit("x", Map.of("who.txt", "x"));
    RepoRef y = repos.commit("y", Map.of("who.txt", "y"));
    RepoRef refX = RepoRef.of("acme/web", x.url().value(), "main");
    RepoRef refY = RepoRef.of("acme/web", y.url().value(), "main");
    JGitRepoSource jgit = fileSource(dir.resolve("trees"));
    CountDownLatch go = new CountDownLatch(1);
    List<CompletableFuture<String>> calls = new ArrayList<>();
    for (int i = 0; i < 16; i++) {
      RepoRef ref = i % 2 == 0 ? refX : refY;
      calls.add(
          CompletableFuture.supplyAsync(
              () -> {
                try {
                  go.await();
                  return ref.url().value()
                      + "="
                      + Files.readString(jgit.ensureClone(ref).resolve("who.txt"));
                } catch (Exception e) {
                  throw new RuntimeException(e);
                }
              }));
    }
    go.countDown();
    for (CompletableFuture<String> c : calls) {
      String r = c.get(60, TimeUnit.SECONDS);
      String expected = r.startsWith(x.url().value() + "=") ? "x" : "y";
      assertThat(r).endsWith("=" + expected);
    }
    assertThat(jgit.cloneCount()).isEqualTo(2);
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "http://localhost:%d/r.git",
        "http://LOCALHOST:%d/r.git",
        "http://localhost.:%d/r.git",
        "http://127.0.0.1:%d/r.git",
        "http://[::ffff:127.0.0.1]:%d/r.git",
        "http://[::ffff:7f00:1]:%d/r.git",
        "http://127.1:%d/r.git",
        "http://2130706433:%d/r.git",
        "http://0x7f000001:%d/r.git",
        "http://0177.0.0.1:%d/r.git",
        "http://tok:en@127.0.0.1:%d/r.git",
        "HTTP://127.0.0.1:%d/r.git",
      })
  @DisplayName("publicOnly: no spelling of a loopback host reaches the server")
  void loopbackSpellings(String template) throws Exception {
    AtomicInteger requests = new AtomicInteger();
    HttpServer server = gated(new CountDownLatch(1), new CountDownLatch(0), requests);
    String url = String.format(template, server.getAddress().getPort());
    JGitRepoSource jgit =
        source(
            JGitRepoSource.builder(dir.resolve("trees"))
                .allowedSchemes(Set.of("http"))
                .addressFilter(AddressFilter.publicOnly()));
    Throwable thrown = null;
    try {
      jgit.ensureClone(RepoRef.of("t/r", url, "main"));
    } catch (RuntimeException e) {
      thrown = e;
    }
    assertThat(requests).as("requests that reached the loopback server").hasValue(0);
    // Refused by the policy, or failing to connect anywhere else: never a tree.
    assertThat(thrown).isInstanceOfAny(InvalidInputException.class, RepoCloneException.class);
  }

  @Test
  @DisplayName("an upper-case scheme is the same URL: the clone talks to the server")
  void upperCaseSchemeGoesToTheServer() throws Exception {
    AtomicInteger requests = new AtomicInteger();
    HttpServer server = gated(new CountDownLatch(1), new CountDownLatch(0), requests);
    JGitRepoSource jgit =
        source(JGitRepoSource.builder(dir.resolve("trees")).allowedSchemes(Set.of("http")));
    String url = "HTTP://127.0.0.1:" + server.getAddress().getPort() + "/r.git";
    assertThatThrownBy(() -> jgit.ensureClone(RepoRef.of("t/r", url, "main")))
        .isInstanceOf(RepoCloneException.class);
    assertThat(requests).as("requests that reached the server").hasPositiveValue();
  }
}
