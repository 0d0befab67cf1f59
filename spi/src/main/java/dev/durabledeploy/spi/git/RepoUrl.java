package dev.durabledeploy.spi.git;

import dev.durabledeploy.spi.exception.InvalidInputException;
import java.net.URI;
import java.net.URISyntaxException;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A git remote URL: {@code https}, {@code http}, {@code ssh}, {@code git} or {@code file}, or the
 * scp-like {@code user@host:path}. It may carry credentials (a token as user info), so {@link
 * #toString()} is always {@link #redacted()} and no validation message ever repeats the value
 * (docs/invariants.md I2). {@link #value()} is the raw URL, its scheme in lower case ({@code
 * HTTPS://h/r} is stored as {@code https://h/r}); hand it only to the git transport.
 */
public record RepoUrl(String value) {

  private static final Set<String> SCHEMES = Set.of("https", "http", "ssh", "git", "file");
  private static final Pattern SCP_LIKE =
      Pattern.compile("([A-Za-z0-9._-]+)@([A-Za-z0-9.-]+):([^/\\s][^\\s]*)");
  private static final String HIDDEN = "***";

  public RepoUrl {
    if (value == null || value.isEmpty()) {
      throw new InvalidInputException("url", "is required");
    }
    if (value.length() > 2048) {
      throw new InvalidInputException("url", "is longer than 2048 characters");
    }
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      if (c <= 0x20 || c == 0x7f || c == '\\') {
        throw new InvalidInputException(
            "url", "contains a space, backslash or control character at index " + i);
      }
    }
    if (!value.contains("://")) {
      if (!SCP_LIKE.matcher(value).matches()) {
        throw new InvalidInputException(
            "url", "must be scheme://host/path (https, http, ssh, git, file) or user@host:path");
      }
    } else {
      URI uri = parse(value);
      String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
      if (!SCHEMES.contains(scheme)) {
        throw new InvalidInputException(
            "url", "scheme must be one of https, http, ssh, git, file; got '" + scheme + "'");
      }
      if (!scheme.equals("file") && (uri.getHost() == null || uri.getHost().isEmpty())) {
        String authority = uri.getRawAuthority() == null ? "" : uri.getRawAuthority();
        throw new InvalidInputException(
            "url",
            authority.indexOf('@') != authority.lastIndexOf('@')
                ? "has no host: its user info holds a raw '@'; write it as %40"
                : "has no host");
      }
      if (uri.getRawPath() == null || uri.getRawPath().isEmpty() || uri.getRawPath().equals("/")) {
        throw new InvalidInputException("url", "has no repository path");
      }
      // One spelling of the scheme (RFC 3986 3.1: case-insensitive), so the host's scheme policy,
      // the cache key and the git transport, which knows only lower-case schemes and would read
      // "HTTP://host/r" as a local path, all judge the same URL.
      value = scheme + value.substring(value.indexOf("://"));
    }
  }

  public static RepoUrl of(String value) {
    return new RepoUrl(value);
  }

  /** The user info (e.g. {@code user:token}) if the URL carries any. */
  public Optional<String> userInfo() {
    if (!value.contains("://")) {
      Matcher m = SCP_LIKE.matcher(value);
      return m.matches() ? Optional.of(m.group(1)) : Optional.empty();
    }
    return Optional.ofNullable(parse(value).getRawUserInfo());
  }

  /** The URL without user info and query: what may be stored in {@code .git/config}. */
  public RepoUrl withoutCredentials() {
    return new RepoUrl(render(false));
  }

  /**
   * The URL to hand the transport and to identify the repository by: without passwords, tokens,
   * query or fragment, but with the user name of {@code ssh://user@host/...} and {@code
   * user@host:path} URLs, which says whom to log in as and is no secret. Every other scheme loses
   * its whole user info (for {@code https} a lone user is usually a token).
   */
  public RepoUrl withoutSecrets() {
    if (!value.contains("://")) {
      return this;
    }
    URI uri = parse(value);
    String info = uri.getRawUserInfo();
    if (info == null || !uri.getScheme().equalsIgnoreCase("ssh")) {
      return withoutCredentials();
    }
    String user = info.contains(":") ? info.substring(0, info.indexOf(':')) : info;
    String plain = render(false);
    int hostStart = plain.indexOf("://") + 3;
    return new RepoUrl(plain.substring(0, hostStart) + user + "@" + plain.substring(hostStart));
  }

  /** The scheme in lower case; {@code ssh} for scp-like {@code user@host:path}. */
  public String scheme() {
    int end = value.indexOf("://");
    return end < 0 ? "ssh" : value.substring(0, end).toLowerCase(Locale.ROOT);
  }

  /**
   * The URL safe for logs and messages: user info shown as {@code ***} (except the conventional
   * {@code git} user of scp-like URLs), query and fragment hidden.
   */
  public String redacted() {
    return render(true);
  }

  @Override
  public String toString() {
    return redacted();
  }

  private String render(boolean markHidden) {
    if (!value.contains("://")) {
      Matcher m = SCP_LIKE.matcher(value);
      m.matches();
      String user = m.group(1);
      String shownUser = user.equals("git") ? "git@" : markHidden ? HIDDEN + "@" : "";
      return shownUser + m.group(2) + ":" + m.group(3);
    }
    URI uri = parse(value);
    StringBuilder out = new StringBuilder(uri.getScheme()).append("://");
    if (uri.getRawUserInfo() != null && markHidden) {
      out.append(HIDDEN).append('@');
    }
    if (uri.getHost() != null) {
      out.append(uri.getHost());
    }
    if (uri.getPort() >= 0) {
      out.append(':').append(uri.getPort());
    }
    out.append(uri.getRawPath());
    if ((uri.getRawQuery() != null || uri.getRawFragment() != null) && markHidden) {
      out.append('?').append(HIDDEN);
    }
    return out.toString();
  }

  private static URI parse(String value) {
    try {
      return new URI(value);
    } catch (URISyntaxException e) {
      // The exception text would echo the URL, and with it any credential.
      throw new InvalidInputException("url", "is not a valid URI (at index " + e.getIndex() + ")");
    }
  }
}
