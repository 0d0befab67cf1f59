package dev.durabledeploy.git.jgit.hostile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpServer;
import dev.durabledeploy.git.jgit.AddressFilter;
import dev.durabledeploy.git.jgit.JGitRepoSource;
import dev.durabledeploy.spi.InvalidInputException;
import dev.durabledeploy.spi.RepoCloneException;
import dev.durabledeploy.spi.git.RepoRef;
import dev.durabledeploy.testkit.fixtures.GitRepos;
import java.net.InetAddress;
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

  // BREAKS: a valid repo id of 200 characters (RepoId allows 200) cannot be cloned: the temp directory <cacheKey>-<uuid> is 262 bytes, over the filesystem's 255-byte name limit
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

  // BREAKS: evict() while a clone of the same ref is in flight in the same instance throws java.nio.channels.OverlappingFileLockException (the JVM refuses a second lock on the lock file) instead of waiting
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

  // BREAKS: two JGitRepoSource instances on one root in one JVM (documented to coordinate through an OS file lock) make the second caller fail with a raw OverlappingFileLockException instead of waiting
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

  // BREAKS: a tenant's repository may hold symlinks into the host: after ensureClone the tree exposes another tenant's tree (its directory name is the public RepoRef.cacheKey()) and any host file, e.g. /proc/self/environ
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
    Files.createSymbolicLink(
        remote.resolve("peek"), Path.of("..", victim.cacheKey(), "secret.txt"));
    Files.createSymbolicLink(remote.resolve("host"), hostSecret);
    try (Git git = Git.open(remote.toFile())) {
      git.add().addFilepattern("peek").addFilepattern("host").call();
      git.commit().setMessage("links").setAuthor("t", "t@example.com").call();
    }
    RepoRef attackerRef = RepoRef.of("attacker/site", attacker.url().value(), "main");
    Path tree = jgit.ensureClone(attackerRef);
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
                  return ref.url().value() + "=" + Files.readString(jgit.ensureClone(ref).resolve("who.txt"));
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

  // BREAKS: the default filter admits AWS's IPv6 instance-metadata endpoint fd00:ec2::254 and Alibaba's 100.100.100.200, though it exists to keep clones off cloud metadata endpoints
  @ParameterizedTest
  @ValueSource(strings = {"fd00:ec2::254", "100.100.100.200"})
  @DisplayName("the default filter refuses cloud metadata endpoints")
  void defaultFilterMetadataEndpoints(String address) throws Exception {
    assertThat(AddressFilter.NOT_LINK_LOCAL.permits("metadata", InetAddress.getByName(address)))
        .isFalse();
  }

  // BREAKS: publicOnly() admits IPv6 addresses that embed private or link-local IPv4 ones and reach them through a translator (NAT64 64:ff9b::/96, 6to4 2002::/16)
  @ParameterizedTest
  @ValueSource(strings = {"64:ff9b::a9fe:a9fe", "64:ff9b::a00:1", "2002:a9fe:a9fe::1", "2002:7f00:1::1"})
  @DisplayName("publicOnly refuses IPv6 spellings of private and link-local IPv4 addresses")
  void publicOnlyEmbeddedIpv4(String address) throws Exception {
    assertThat(AddressFilter.publicOnly().permits("h", InetAddress.getByName(address))).isFalse();
  }

  // BREAKS: an upper-case scheme (valid: RFC 3986 schemes are case-insensitive) passes the policy as http(s) but reaches JGit as typed; JGit's URIish knows only lower-case schemes and opens "HTTP://host/r.git" as a local path relative to the working directory: no request is made and the clone fails as REPO_NOT_FOUND (a clone destination can never hold that relative path, so no local read was found)
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

  // BREAKS: a warm hit is a stat of the marker only: a tree removed behind the source's back (a tmp cleaner, an operator, a half-restored volume) while its marker stays is handed out as an empty path forever, never "rebuilt on demand" (DESIGN: trees may vanish at any time)
  @Test
  @DisplayName("a tree that vanished while its marker stayed is rebuilt on the next ensureClone")
  void vanishedTreeIsRebuilt() throws Exception {
    RepoRef remote = new GitRepos(dir.resolve("remotes")).commit("r", Map.of("f.txt", "x"));
    RepoRef ref = RepoRef.of("acme/web", remote.url().value(), "main");
    JGitRepoSource jgit = fileSource(dir.resolve("trees"));
    Path tree = jgit.ensureClone(ref);
    try (Stream<Path> all = Files.walk(tree)) {
      for (Path p : all.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.delete(p);
      }
    }
    assertThat(tree).doesNotExist();
    Path again = jgit.ensureClone(ref);
    assertThat(again.resolve("f.txt")).hasContent("x");
  }
}
