package dev.durabledeploy.spi.git;

import dev.durabledeploy.spi.Inputs;
import dev.durabledeploy.spi.exception.InvalidInputException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * Which repository, from where, at which branch. {@link #toString()} shows the URL redacted.
 *
 * @param branch a branch name following git's ref-name rules (no {@code ..}, <code>@&#123;</code>,
 *     space, {@code ~^:?*[\}, control character, leading {@code -} or {@code /}, trailing {@code
 *     /}, {@code .} or {@code .lock})
 */
public record RepoRef(RepoId id, RepoUrl url, String branch) {

  /** The branch used when the host names none. */
  public static final String DEFAULT_BRANCH = "main";

  private static final Pattern BRANCH = Pattern.compile("[^\\x00-\\x20~^:?*\\[\\\\\\x7f]+");

  public RepoRef {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(url, "url");
    Inputs.requireMatch(
        "branch", branch, 255, BRANCH, "must not contain spaces, control characters or ~^:?*[\\");
    if (branch.startsWith("-")
        || branch.startsWith("/")
        || branch.endsWith("/")
        || branch.endsWith(".")
        || branch.endsWith(".lock")
        || branch.contains("..")
        || branch.contains("//")
        || branch.contains("@{")
        || branch.contains("/.")
        || branch.startsWith(".")) {
      throw new InvalidInputException(
          "branch", Inputs.render(branch) + " is not a valid git branch name");
    }
  }

  public static RepoRef of(String id, String url, String branch) {
    return new RepoRef(new RepoId(id), new RepoUrl(url), branch);
  }

  /**
   * A name for this reference's working tree, unique to what determines its content: the id, the
   * URL {@linkplain RepoUrl#withoutSecrets() without secrets} and the branch. Two references that
   * differ in any of them never share it; two that differ only in credentials do. It is {@code <id
   * with '/' as '~'>@<24 hex digits of SHA-256>}: one path segment on every filesystem, and no key
   * is a prefix of another even ignoring case, so directories named after keys never nest or
   * collide.
   */
  public String cacheKey() {
    String identity = id.value() + "\n" + url.withoutSecrets().value() + "\n" + branch;
    try {
      byte[] digest =
          MessageDigest.getInstance("SHA-256").digest(identity.getBytes(StandardCharsets.UTF_8));
      return id.value().replace('/', '~') + "@" + HexFormat.of().formatHex(digest, 0, 12);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JDK has SHA-256", e);
    }
  }

  @Override
  public String toString() {
    return id + " (" + url.redacted() + "@" + branch + ")";
  }
}
