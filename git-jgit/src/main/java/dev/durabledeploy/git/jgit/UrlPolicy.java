package dev.durabledeploy.git.jgit;

import dev.durabledeploy.spi.exception.InvalidInputException;
import dev.durabledeploy.spi.git.RepoRef;
import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.Proxy;
import java.net.URI;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import org.eclipse.jgit.transport.SshTransport;
import org.eclipse.jgit.transport.Transport;
import org.eclipse.jgit.transport.TransportHttp;
import org.eclipse.jgit.transport.http.HttpConnection;
import org.eclipse.jgit.transport.http.HttpConnectionFactory;
import org.eclipse.jgit.transport.http.HttpConnectionFactory2;
import org.eclipse.jgit.transport.sshd.JGitKeyCache;
import org.eclipse.jgit.transport.sshd.SshdSessionFactory;
import org.eclipse.jgit.transport.sshd.SshdSessionFactoryBuilder;
import org.eclipse.jgit.util.FS;

/**
 * Where a clone may go: the schemes the host allows, no {@code file} URL into the clone root, and
 * the host's {@link AddressFilter} on every address a connection is opened to. The filter runs
 * inside the transports, on the address that is then connected to: for ssh on the resolved socket
 * address Apache MINA connects to, for http(s) on each request (so on every redirect) just before
 * the JDK connects (the JVM's DNS cache, 30 s by default, makes that the same resolution), and for
 * {@code git://} once before the clone.
 */
final class UrlPolicy implements AutoCloseable {

  static final Set<String> KNOWN_SCHEMES = Set.of("https", "http", "ssh", "git", "file");

  private final Set<String> schemes;
  private final AddressFilter filter;
  private final Path root;
  private final SshdSessionFactory ssh;

  UrlPolicy(Set<String> schemes, AddressFilter filter, Path root, Path sshDirectory) {
    this.schemes = Set.copyOf(schemes);
    this.filter = filter;
    this.root = root;
    File home = FS.DETECTED.userHome();
    this.ssh =
        new SshdSessionFactoryBuilder()
            .setHomeDirectory(home)
            .setSshDirectory(sshDirectory != null ? sshDirectory.toFile() : new File(home, ".ssh"))
            .setProxyDataFactory(
                remote -> {
                  InetAddress address = remote.getAddress();
                  if (address != null && !filter.permits(remote.getHostString(), address)) {
                    throw new UncheckedIOException(
                        TransportRefused.address(remote.getHostString(), address));
                  }
                  return null; // no proxy: connect to exactly the address just checked
                })
            .build(new JGitKeyCache());
  }

  /**
   * Refuses, with no I/O, a scheme the host did not allow: checked on every call, a warm hit too,
   * so a reference the host's policy refuses is refused whether or not its tree is there.
   */
  void checkScheme(RepoRef repo) {
    String scheme = repo.url().scheme();
    if (!schemes.contains(scheme)) {
      throw new InvalidInputException(
          "url",
          "scheme '"
              + scheme
              + "' is not allowed (allowed: "
              + String.join(", ", new TreeSet<>(schemes))
              + "); the host enables others with JGitRepoSource.Builder.allowedSchemes");
    }
  }

  /**
   * Refuses, before a clone or fetch reads anything, a scheme the host did not allow or a file URL
   * into the root. The file check resolves the target's real path (a stat per path element), so it
   * runs where a clone would read the URL, not on a warm hit, which reads nothing from it: a tree
   * can only be warm after a clone passed this check.
   */
  void check(RepoRef repo) {
    checkScheme(repo);
    if (repo.url().scheme().equals("file")) {
      Path target;
      try {
        target = Path.of(URI.create(repo.url().withoutSecrets().value())).normalize();
        if (Files.exists(target)) {
          target = target.toRealPath();
        }
      } catch (IllegalArgumentException | IOException e) {
        throw new InvalidInputException("url", "is not a usable file URL");
      }
      if (target.startsWith(root) || root.startsWith(target)) {
        throw new InvalidInputException(
            "url", "points into the clone root; a file URL may not read the working trees");
      }
    }
  }

  /** For transports without a connect hook ({@code git://}): resolves and filters up front. */
  void precheck(RepoRef repo) throws IOException {
    if (!repo.url().scheme().equals("git")) {
      return;
    }
    String host = URI.create(repo.url().withoutSecrets().value()).getHost();
    for (InetAddress address : InetAddress.getAllByName(host)) {
      if (!filter.permits(host, address)) {
        throw TransportRefused.address(host, address);
      }
    }
  }

  /** Installs the policy into one JGit transport (a TransportConfigCallback). */
  void configure(Transport transport) {
    if (transport instanceof TransportHttp http) {
      http.setHttpConnectionFactory(new Filtering(http.getHttpConnectionFactory()));
    }
    if (transport instanceof SshTransport sshTransport) {
      sshTransport.setSshSessionFactory(ssh);
    }
  }

  @Override
  public void close() {
    ssh.close();
  }

  /** Every http(s) connection, redirects included, passes the scheme list and the filter. */
  private final class Filtering implements HttpConnectionFactory2 {
    private final HttpConnectionFactory delegate;

    Filtering(HttpConnectionFactory delegate) {
      this.delegate = delegate;
    }

    private void admit(URL url) throws IOException {
      String scheme = url.getProtocol().toLowerCase(java.util.Locale.ROOT);
      if (!schemes.contains(scheme)) {
        throw new TransportRefused(
            "a request to "
                + url.getHost()
                + " uses scheme '"
                + scheme
                + "', which is not allowed");
      }
      for (InetAddress address : InetAddress.getAllByName(url.getHost())) {
        if (!filter.permits(url.getHost(), address)) {
          throw TransportRefused.address(url.getHost(), address);
        }
      }
    }

    @Override
    public HttpConnection create(URL url) throws IOException {
      admit(url);
      return delegate.create(url);
    }

    @Override
    public HttpConnection create(URL url, Proxy proxy) throws IOException {
      admit(url);
      return delegate.create(url, proxy);
    }

    @Override
    public GitSession newSession() {
      if (delegate instanceof HttpConnectionFactory2 sessions) {
        return sessions.newSession();
      }
      return new GitSession() {
        @Override
        public HttpConnection configure(HttpConnection connection, boolean sslVerify) {
          return connection;
        }

        @Override
        public void close() {}
      };
    }
  }

  /** The policy refused a connection; its message names the host and address, never a secret. */
  static final class TransportRefused extends IOException {
    TransportRefused(String message) {
      super(message);
    }

    static TransportRefused address(String host, InetAddress address) {
      return new TransportRefused(
          host
              + " resolves to "
              + address.getHostAddress()
              + ", which the host's address filter does not permit");
    }
  }
}
