package dev.durabledeploy.spi.git;

import dev.durabledeploy.spi.Inputs;
import java.util.regex.Pattern;

/**
 * A repository's id, e.g. {@code acme/web}: one to three slash-separated segments of {@code
 * [A-Za-z0-9][A-Za-z0-9._-]*}, at most 200 characters. Used as a directory path under the clone
 * root, so it can never escape it: no segment starts with a dot, none is empty.
 */
public record RepoId(String value) implements Comparable<RepoId> {

  private static final Pattern ID =
      Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*){0,2}");

  public RepoId {
    Inputs.requireMatch(
        "repoId",
        value,
        200,
        ID,
        "must be 1 to 3 '/'-separated segments of [A-Za-z0-9][A-Za-z0-9._-]*");
  }

  public static RepoId of(String value) {
    return new RepoId(value);
  }

  @Override
  public int compareTo(RepoId other) {
    return value.compareTo(other.value);
  }

  @Override
  public String toString() {
    return value;
  }
}
