package dev.durabledeploy.git.jgit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpServer;
import dev.durabledeploy.spi.exception.InvalidInputException;
import dev.durabledeploy.spi.git.RepoRef;
import dev.durabledeploy.testkit.fixtures.GitRepos;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

@DisplayName("JGitRepoSource clones only where the host's URL policy allows")
class UrlPolicyTest {

  @TempDir Path dir;
  private final List<AutoCloseable> open = new CopyOnWriteArrayList<>();

  @AfterEach
  void closeAll() throws Exception {
    for (AutoCloseable c : open) {
      c.close();
    }
  }

  private JGitRepoSource source(JGitRepoSource.Builder builder) {
    JGitRepoSource s = builder.build();
    open.add(s);
    return s;
  }

  private HttpServer server(String address, AtomicInteger requests, String redirectTo)
      throws Exception {
    HttpServer server = HttpServer.create(new InetSocketAddress(address, 0), 0);
    server.createContext(
        "/",
        x -> {
          requests.incrementAndGet();
          if (redirectTo != null) {
            x.getResponseHeaders().set("Location", redirectTo + x.getRequestURI());
            x.sendResponseHeaders(302, -1);
          } else {
            x.sendResponseHeaders(404, -1);
          }
          x.close();
        });
    server.start();
    open.add(() -> server.stop(0));
    return server;
  }

  @Test
  @DisplayName("a file URL is refused unless the host allows file, naming the field and the fix")
  void fileOffByDefault() {
    RepoRef repo = new GitRepos(dir.resolve("remotes")).commit("local", Map.of("f.txt", "x"));
    JGitRepoSource jgit = source(JGitRepoSource.builder(dir.resolve("trees")));
    assertThatThrownBy(() -> jgit.ensureClone(repo))
        .isInstanceOfSatisfying(
            InvalidInputException.class,
            e -> {
              assertThat(e.field()).isEqualTo("url");
              assertThat(e.reason()).contains("'file'").contains("allowedSchemes");
            });
    assertThat(jgit.cloneCount()).isZero();
  }

  @ParameterizedTest
  @ValueSource(strings = {"http://127.0.0.1:9/acme/web.git", "git://127.0.0.1:9/acme/web.git"})
  @DisplayName("cleartext http and git URLs are refused by default, before any connection")
  void cleartextOffByDefault(String url) {
    JGitRepoSource jgit = source(JGitRepoSource.builder(dir.resolve("trees")));
    assertThatThrownBy(() -> jgit.ensureClone(RepoRef.of("acme/web", url, "main")))
        .isInstanceOfSatisfying(
            InvalidInputException.class, e -> assertThat(e.field()).isEqualTo("url"));
  }

  @Test
  @DisplayName("a file URL into the clone root is refused even where file is allowed")
  void fileIntoTheRoot() {
    RepoRef victim = new GitRepos(dir.resolve("remotes")).commit("victim", Map.of("s.txt", "s"));
    JGitRepoSource jgit =
        source(JGitRepoSource.builder(dir.resolve("trees")).allowedSchemes(Set.of("file")));
    Path victimTree = jgit.ensureClone(victim);
    RepoRef thief = RepoRef.of("thief", victimTree.toUri().toString(), "main");
    assertThatThrownBy(() -> jgit.ensureClone(thief))
        .isInstanceOfSatisfying(
            InvalidInputException.class,
            e -> assertThat(e.reason()).contains("points into the clone root"));
    assertThat(jgit.cloneCount()).isEqualTo(1);
  }

  @Test
  @DisplayName("a warm tree is still refused to a source whose host does not allow its scheme")
  void warmTreeOfARefusedScheme() {
    RepoRef repo = new GitRepos(dir.resolve("remotes")).commit("acme/web", Map.of("a.txt", "a"));
    JGitRepoSource allowing =
        source(JGitRepoSource.builder(dir.resolve("trees")).allowedSchemes(Set.of("file")));
    Path tree = allowing.ensureClone(repo);
    assertThat(allowing.ensureClone(repo)).isEqualTo(tree);
    JGitRepoSource refusing = source(JGitRepoSource.builder(dir.resolve("trees")));
    assertThatThrownBy(() -> refusing.ensureClone(repo))
        .isInstanceOfSatisfying(
            InvalidInputException.class,
            e -> assertThat(e.reason()).contains("scheme 'file' is not allowed"));
    assertThatThrownBy(() -> refusing.withTree(repo, Path::toString))
        .isInstanceOf(InvalidInputException.class);
    assertThat(allowing.cloneCount()).isEqualTo(1);
  }

  @Test
  @DisplayName("the address filter sees the resolved address and refuses it before any request")
  void filterBeforeTheRequest() throws Exception {
    AtomicInteger requests = new AtomicInteger();
    HttpServer server = server("127.0.0.1", requests, null);
    List<String> asked = new CopyOnWriteArrayList<>();
    JGitRepoSource jgit =
        source(
            JGitRepoSource.builder(dir.resolve("trees"))
                .allowedSchemes(Set.of("http"))
                .addressFilter(
                    (host, address) -> {
                      asked.add(host + "=" + address.getHostAddress());
                      return AddressFilter.publicOnly().permits(host, address);
                    }));
    String url = "http://localhost:" + server.getAddress().getPort() + "/acme/web.git";
    assertThatThrownBy(() -> jgit.ensureClone(RepoRef.of("acme/web", url, "main")))
        .isInstanceOfSatisfying(
            InvalidInputException.class,
            e ->
                assertThat(e.reason())
                    .contains("localhost resolves to")
                    .contains("address filter does not permit"));
    assertThat(asked).isNotEmpty().allMatch(a -> a.startsWith("localhost="));
    assertThat(requests).hasValue(0);
    assertThat(Files.exists(dir.resolve("trees").resolve("acme"))).isFalse();
  }

  @Test
  @DisplayName("a redirect to a refused address is refused before the redirect is followed")
  void redirectIsFiltered() throws Exception {
    AtomicInteger hidden = new AtomicInteger();
    HttpServer internal = server("127.0.0.2", hidden, null);
    AtomicInteger front = new AtomicInteger();
    HttpServer redirector =
        server("127.0.0.1", front, "http://127.0.0.2:" + internal.getAddress().getPort());
    InetAddress refused = InetAddress.getByName("127.0.0.2");
    JGitRepoSource jgit =
        source(
            JGitRepoSource.builder(dir.resolve("trees"))
                .allowedSchemes(Set.of("http"))
                .addressFilter((host, address) -> !address.equals(refused)));
    String url = "http://127.0.0.1:" + redirector.getAddress().getPort() + "/acme/web.git";
    assertThatThrownBy(() -> jgit.ensureClone(RepoRef.of("acme/web", url, "main")))
        .isInstanceOfSatisfying(
            InvalidInputException.class,
            e -> assertThat(e.reason()).contains("127.0.0.2").contains("address filter"));
    assertThat(front.get()).isPositive();
    assertThat(hidden).hasValue(0);
  }

  @Test
  @DisplayName("the default filter refuses link-local and unspecified addresses, publicOnly more")
  void filters() throws Exception {
    AddressFilter byDefault = AddressFilter.NOT_LINK_LOCAL;
    AddressFilter publicOnly = AddressFilter.publicOnly();
    for (String a : List.of("169.254.169.254", "fe80::1", "0.0.0.0", "::", "224.0.0.1")) {
      assertThat(byDefault.permits("h", InetAddress.getByName(a))).as(a).isFalse();
    }
    for (String a : List.of("127.0.0.1", "10.1.2.3", "192.168.1.1", "::1", "8.8.8.8")) {
      assertThat(byDefault.permits("h", InetAddress.getByName(a))).as(a).isTrue();
    }
    for (String a :
        List.of(
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "169.254.169.254")) {
      assertThat(publicOnly.permits("h", InetAddress.getByName(a))).as(a).isFalse();
    }
    for (String a : List.of("8.8.8.8", "2001:4860:4860::8888", "100.128.0.1", "172.32.0.1")) {
      assertThat(publicOnly.permits("h", InetAddress.getByName(a))).as(a).isTrue();
    }
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "fd00:ec2::254", // AWS instance metadata over IPv6
        "fd00:ec2::23", // AWS EKS pod identity
        "100.100.100.200", // Alibaba
        "168.63.129.16", // Azure WireServer
        "192.0.0.192", // Oracle
        "fd00:c1::a9fe:a9fe", // Oracle over IPv6
        "fd20:ce::254", // Google Cloud over IPv6
        "fd00:42::42", // Scaleway
        "fd00:a9fe:a9fe::1", // Akamai/Linode
        "169.254.169.254", // AWS, Google Cloud, Azure, DigitalOcean, Oracle, OpenStack
        "169.254.170.2", // AWS ECS task credentials
        "64:ff9b::a9fe:a9fe", // 169.254.169.254 through NAT64
        "2002:a9fe:a9fe::1", // 169.254.169.254 through 6to4
        "::a9fe:a9fe" // IPv4-compatible 169.254.169.254
      })
  @DisplayName("the default filter refuses cloud metadata endpoints, in every spelling")
  void defaultFilterMetadataEndpoints(String address) throws Exception {
    assertThat(AddressFilter.NOT_LINK_LOCAL.permits("metadata", InetAddress.getByName(address)))
        .isFalse();
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "64:ff9b::a9fe:a9fe", // NAT64 of 169.254.169.254
        "64:ff9b::a00:1", // NAT64 of 10.0.0.1
        "64:ff9b::7f00:1", // NAT64 of 127.0.0.1
        "64:ff9b:1::808:808", // the local-use NAT64 prefix, whatever it embeds
        "2002:a9fe:a9fe::1", // 6to4 of 169.254.169.254
        "2002:7f00:1::1", // 6to4 of 127.0.0.1
        "2002:c0a8:101::1", // 6to4 of 192.168.1.1
        "2001:0:4136:e378:8000:63bf:f5ff:fffe", // Teredo, client 10.0.0.1
        "::ffff:0:a00:1", // IPv4-translated 10.0.0.1
        "::a00:1", // IPv4-compatible 10.0.0.1
        "198.18.0.1", // benchmarking
        "240.0.0.1" // reserved
      })
  @DisplayName("publicOnly refuses IPv6 spellings of private and link-local IPv4 addresses")
  void publicOnlyEmbeddedIpv4(String address) throws Exception {
    assertThat(AddressFilter.publicOnly().permits("h", InetAddress.getByName(address))).isFalse();
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "64:ff9b::808:808", // NAT64 of 8.8.8.8
        "2002:808:808::1", // 6to4 of 8.8.8.8
        "2001:0:4136:e378:8000:63bf:f7f7:f7f7" // Teredo, client 8.8.8.8
      })
  @DisplayName("publicOnly admits IPv6 spellings of public IPv4 addresses")
  void publicOnlyEmbeddedPublicIpv4(String address) throws Exception {
    assertThat(AddressFilter.publicOnly().permits("h", InetAddress.getByName(address))).isTrue();
  }

  @Test
  @DisplayName("user info is percent-decoded as RFC 3986 says: a plus stays a plus")
  void percentDecoding() {
    assertThat(CloneCredentials.percentDecode("a+b%2Bc%20d%40e%C3%A9")).isEqualTo("a+b+c d@eé");
    assertThat(CloneCredentials.percentDecode("100%")).isEqualTo("100%");
  }
}
