package dev.durabledeploy.git.jgit;

import dev.durabledeploy.spi.git.RepoRef;
import java.nio.file.Path;
import java.util.Set;

/** Child-process side of the two-JVM test: ensureClone once, print how many clones it ran. */
public final class TwoProcessClone {

  private TwoProcessClone() {}

  public static void main(String[] args) {
    JGitRepoSource source =
        JGitRepoSource.builder(Path.of(args[0])).allowedSchemes(Set.of("file")).build();
    Path tree = source.ensureClone(RepoRef.of(args[1], args[2], "main"));
    System.out.println("clones=" + source.cloneCount() + " tree=" + tree);
  }
}
