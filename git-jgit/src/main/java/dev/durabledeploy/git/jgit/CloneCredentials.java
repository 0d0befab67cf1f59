package dev.durabledeploy.git.jgit;

import dev.durabledeploy.spi.git.RepoRef;
import java.net.PasswordAuthentication;
import java.util.Optional;
import java.util.function.Function;
import org.eclipse.jgit.transport.CredentialItem;
import org.eclipse.jgit.transport.CredentialsProvider;
import org.eclipse.jgit.transport.URIish;
import org.eclipse.jgit.transport.UsernamePasswordCredentialsProvider;

/**
 * The credentials a clone hands to the transport, and only to it: the host's provider first, else
 * the URL's user info (percent-decoded as RFC 3986 says). The URL the transport gets carries none.
 */
final class CloneCredentials {

  private final Function<RepoRef, Optional<PasswordAuthentication>> credentials;

  CloneCredentials(Function<RepoRef, Optional<PasswordAuthentication>> credentials) {
    this.credentials = credentials;
  }

  CredentialsProvider credentialsFor(RepoRef repo) {
    Optional<PasswordAuthentication> given = credentials.apply(repo);
    if (given.isPresent()) {
      return new UsernamePasswordCredentialsProvider(
          given.get().getUserName(), given.get().getPassword());
    }
    Optional<String> info = repo.url().userInfo();
    if (info.isEmpty()) {
      return null;
    }
    int colon = info.get().indexOf(':');
    if (colon < 0 && repo.url().scheme().equals("ssh")) {
      return null; // an ssh user name alone is in the URL the transport gets; keys do the rest
    }
    String user = colon < 0 ? info.get() : info.get().substring(0, colon);
    String secret = colon < 0 ? "" : info.get().substring(colon + 1);
    if (repo.url().scheme().equals("ssh")) {
      return new SshPassword(percentDecode(user), percentDecode(secret));
    }
    return new UsernamePasswordCredentialsProvider(percentDecode(user), percentDecode(secret));
  }

  /**
   * The password of an ssh URL. JGit's ssh client asks only an interactive provider for it, so this
   * one says it is; it answers the user name and password prompts and nothing else, so an unknown
   * host key (a yes/no question) is still refused.
   */
  private static final class SshPassword extends UsernamePasswordCredentialsProvider {
    SshPassword(String user, String password) {
      super(user, password);
    }

    @Override
    public boolean isInteractive() {
      return true;
    }

    @Override
    public boolean supports(CredentialItem... items) {
      for (CredentialItem item : items) {
        if (!(item instanceof CredentialItem.InformationalMessage) && !super.supports(item)) {
          return false;
        }
      }
      return true;
    }

    @Override
    public boolean get(URIish uri, CredentialItem... items) {
      CredentialItem[] asked =
          java.util.Arrays.stream(items)
              .filter(i -> !(i instanceof CredentialItem.InformationalMessage))
              .toArray(CredentialItem[]::new);
      return supports(asked) && super.get(uri, asked);
    }
  }

  /**
   * RFC 3986 percent-decoding of user info: {@code %XX} are UTF-8 bytes, everything else is itself
   * ({@code +} is a plus, not a space as in form encoding).
   */
  static String percentDecode(String raw) {
    java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream(raw.length());
    for (int i = 0; i < raw.length(); i++) {
      char c = raw.charAt(i);
      if (c == '%'
          && i + 2 < raw.length()
          && Character.digit(raw.charAt(i + 1), 16) >= 0
          && Character.digit(raw.charAt(i + 2), 16) >= 0) {
        bytes.write(Integer.parseInt(raw, i + 1, i + 3, 16));
        i += 2;
      } else {
        byte[] utf8 = String.valueOf(c).getBytes(java.nio.charset.StandardCharsets.UTF_8);
        bytes.write(utf8, 0, utf8.length);
      }
    }
    return bytes.toString(java.nio.charset.StandardCharsets.UTF_8);
  }
}
