package dev.durabledeploy.spi.git;

import dev.durabledeploy.spi.Inputs;
import dev.durabledeploy.spi.InvalidInputException;
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

  @Override
  public String toString() {
    return id + " (" + url.redacted() + "@" + branch + ")";
  }
}
