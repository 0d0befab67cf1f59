package dev.durabledeploy.git.jgit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.durabledeploy.spi.exception.InvalidInputException;
import dev.durabledeploy.spi.exception.RepoCloneException;
import dev.durabledeploy.spi.git.RepoRef;
import dev.durabledeploy.testkit.fixtures.GitRepos;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.sshd.common.config.keys.KeyUtils;
import org.apache.sshd.common.config.keys.PublicKeyEntry;
import org.apache.sshd.common.config.keys.writer.openssh.OpenSSHKeyPairResourceWriter;
import org.apache.sshd.common.keyprovider.KeyPairProvider;
import org.apache.sshd.common.session.Session;
import org.apache.sshd.common.session.SessionListener;
import org.apache.sshd.server.Environment;
import org.apache.sshd.server.ExitCallback;
import org.apache.sshd.server.SshServer;
import org.apache.sshd.server.channel.ChannelSession;
import org.apache.sshd.server.command.Command;
import org.eclipse.jgit.lib.Repository;
import org.eclipse.jgit.storage.file.FileRepositoryBuilder;
import org.eclipse.jgit.transport.UploadPack;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * ssh URLs against an in-process Apache MINA sshd that serves {@code git-upload-pack} with JGit:
 * the user name of the URL is the one that logs in, keys come from the configured ssh directory,
 * passwords are RFC 3986-decoded, unknown host keys and refused addresses never get a session.
 */
@DisplayName("JGitRepoSource over ssh (in-process Apache MINA sshd)")
class SshCloneTest {

  private static final String PASSWORD = "a+b c@d";

  @TempDir Path dir;
  private SshServer sshd;
  private GitRepos repos;
  private Path sshDir;
  private int port;
  private final List<String> logins = new CopyOnWriteArrayList<>();
  private final AtomicInteger sessions = new AtomicInteger();
  private final List<JGitRepoSource> sources = new CopyOnWriteArrayList<>();
  private KeyPair hostKey;

  @BeforeEach
  void startServer() throws Exception {
    repos = new GitRepos(dir.resolve("remotes"));
    KeyPairGenerator ec = KeyPairGenerator.getInstance("EC");
    ec.initialize(256);
    hostKey = ec.generateKeyPair();
    KeyPair clientKey = ec.generateKeyPair();

    sshd = SshServer.setUpDefaultServer();
    sshd.setHost("127.0.0.1");
    sshd.setPort(0);
    sshd.setKeyPairProvider(KeyPairProvider.wrap(hostKey));
    sshd.setPublickeyAuthenticator(
        (user, key, session) -> {
          boolean ok = user.equals("deploy") && KeyUtils.compareKeys(key, clientKey.getPublic());
          if (ok) {
            logins.add(user + ":key");
          }
          return ok;
        });
    sshd.setPasswordAuthenticator(
        (user, password, session) -> {
          boolean ok = user.equals("pwuser") && password.equals(PASSWORD);
          logins.add(user + (ok ? ":password" : ":wrong-password"));
          return ok;
        });
    sshd.setKeyboardInteractiveAuthenticator(null);
    sshd.addSessionListener(
        new SessionListener() {
          @Override
          public void sessionCreated(Session session) {
            sessions.incrementAndGet();
          }
        });
    sshd.setCommandFactory((channel, command) -> new UploadPackCommand(command));
    sshd.start();
    port = sshd.getPort();

    sshDir = Files.createDirectories(dir.resolve("ssh"));
    try (OutputStream out = Files.newOutputStream(sshDir.resolve("id_ecdsa"))) {
      OpenSSHKeyPairResourceWriter.INSTANCE.writePrivateKey(clientKey, "test", null, out);
    }
    String hostLine = PublicKeyEntry.toString(hostKey.getPublic());
    Files.writeString(
        sshDir.resolve("known_hosts"),
        "[127.0.0.1]:" + port + " " + hostLine + "\n[gitsrv]:" + port + " " + hostLine + "\n");
    Files.writeString(
        sshDir.resolve("config"), "Host gitsrv\n  HostName 127.0.0.1\n  Port " + port + "\n");
  }

  @AfterEach
  void stopServer() throws IOException {
    sources.forEach(JGitRepoSource::close);
    sshd.stop(true);
  }

  private JGitRepoSource source(Path ssh, AddressFilter filter) {
    JGitRepoSource s =
        JGitRepoSource.builder(dir.resolve("trees-" + sources.size()))
            .sshDirectory(ssh)
            .addressFilter(filter)
            .build();
    sources.add(s);
    return s;
  }

  private String served(String name) {
    repos.commit(name, Map.of("f.txt", "over ssh"));
    return name.replace('/', '_');
  }

  @Test
  @DisplayName("ssh://deploy@host logs in as deploy with the key from the ssh directory")
  void sshUserIsKept() throws Exception {
    String path = served("acme/web");
    JGitRepoSource jgit = source(sshDir, AddressFilter.NOT_LINK_LOCAL);
    Path tree =
        jgit.ensureClone(
            RepoRef.of("acme/web", "ssh://deploy@127.0.0.1:" + port + "/" + path, "main"));
    assertThat(Files.readString(tree.resolve("f.txt"))).isEqualTo("over ssh");
    assertThat(logins).isNotEmpty().containsOnly("deploy:key");
  }

  @Test
  @DisplayName("scp-like deploy@host:path logs in as deploy (host alias from the ssh config)")
  void scpLikeUserIsKept() throws Exception {
    String path = served("acme/scp");
    JGitRepoSource jgit = source(sshDir, AddressFilter.NOT_LINK_LOCAL);
    Path tree = jgit.ensureClone(RepoRef.of("acme/scp", "deploy@gitsrv:" + path, "main"));
    assertThat(Files.readString(tree.resolve("f.txt"))).isEqualTo("over ssh");
    assertThat(logins).isNotEmpty().containsOnly("deploy:key");
  }

  @Test
  @DisplayName("a password in the URL is percent-decoded as RFC 3986 says ('+' stays '+')")
  void passwordDecoding() throws Exception {
    String path = served("acme/pw");
    JGitRepoSource jgit = source(sshDir, AddressFilter.NOT_LINK_LOCAL);
    String url = "ssh://pwuser:a+b%20c%40d@127.0.0.1:" + port + "/" + path;
    Path tree = jgit.ensureClone(RepoRef.of("acme/pw", url, "main"));
    assertThat(Files.readString(tree.resolve("f.txt"))).isEqualTo("over ssh");
    assertThat(logins).contains("pwuser:password").doesNotContain("pwuser:wrong-password");
  }

  @Test
  @DisplayName("an unknown host key is refused: no tree, a RepoCloneException")
  void unknownHostKey() throws Exception {
    String path = served("acme/mitm");
    Path emptyKnownHosts = Files.createDirectories(dir.resolve("ssh-unknown"));
    Files.copy(sshDir.resolve("id_ecdsa"), emptyKnownHosts.resolve("id_ecdsa"));
    JGitRepoSource jgit = source(emptyKnownHosts, AddressFilter.NOT_LINK_LOCAL);
    RepoRef repo = RepoRef.of("acme/mitm", "ssh://deploy@127.0.0.1:" + port + "/" + path, "main");
    assertThatThrownBy(() -> jgit.ensureClone(repo)).isInstanceOf(RepoCloneException.class);
    assertThat(logins).isEmpty();
  }

  @Test
  @DisplayName("an ssh host resolving to a refused address gets no session at all")
  void refusedAddress() throws Exception {
    String path = served("acme/internal");
    JGitRepoSource jgit = source(sshDir, AddressFilter.publicOnly());
    RepoRef repo =
        RepoRef.of("acme/internal", "ssh://deploy@127.0.0.1:" + port + "/" + path, "main");
    assertThatThrownBy(() -> jgit.ensureClone(repo))
        .isInstanceOfSatisfying(
            InvalidInputException.class,
            e -> assertThat(e.reason()).contains("127.0.0.1").contains("address filter"));
    assertThat(sessions).hasValue(0);
  }

  @Test
  @DisplayName("ssh is on by default and file is not: the default builder clones ssh URLs")
  void sshIsADefaultScheme() {
    assertThat(JGitRepoSource.DEFAULT_SCHEMES).containsExactlyInAnyOrder("https", "ssh");
    assertThat(Set.copyOf(JGitRepoSource.DEFAULT_SCHEMES)).doesNotContain("file", "http", "git");
  }

  /** {@code git-upload-pack '<path>'} served by JGit's UploadPack from the remotes directory. */
  private final class UploadPackCommand implements Command, Runnable {
    private final String command;
    private InputStream in;
    private OutputStream out;
    private OutputStream err;
    private ExitCallback exit;

    UploadPackCommand(String command) {
      this.command = command;
    }

    @Override
    public void setInputStream(InputStream in) {
      this.in = in;
    }

    @Override
    public void setOutputStream(OutputStream out) {
      this.out = out;
    }

    @Override
    public void setErrorStream(OutputStream err) {
      this.err = err;
    }

    @Override
    public void setExitCallback(ExitCallback callback) {
      this.exit = callback;
    }

    @Override
    public void start(ChannelSession channel, Environment env) {
      Thread t = new Thread(this, "test-upload-pack");
      t.setDaemon(true);
      t.start();
    }

    @Override
    public void run() {
      try {
        if (!command.startsWith("git-upload-pack ")) {
          err.write(("unsupported: " + command + "\n").getBytes(StandardCharsets.UTF_8));
          err.flush();
          exit.onExit(1);
          return;
        }
        String path = command.substring("git-upload-pack ".length()).replace("'", "");
        path = path.startsWith("/") ? path.substring(1) : path;
        Path repo = dir.resolve("remotes").resolve(path);
        try (Repository r =
            new FileRepositoryBuilder().setGitDir(repo.resolve(".git").toFile()).build()) {
          new UploadPack(r).upload(in, out, err);
        }
        out.flush();
        exit.onExit(0);
      } catch (IOException e) {
        exit.onExit(2, String.valueOf(e.getMessage()));
      }
    }

    @Override
    public void destroy(ChannelSession channel) {}
  }
}
