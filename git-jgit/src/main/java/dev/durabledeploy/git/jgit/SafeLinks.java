package dev.durabledeploy.git.jgit;

import dev.durabledeploy.spi.Inputs;
import dev.durabledeploy.spi.exception.RepoCloneException;
import dev.durabledeploy.spi.exception.RepoCloneException.Reason;
import dev.durabledeploy.spi.git.RepoRef;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/** The check that a fresh checkout holds no symbolic link leading out of its tree. */
final class SafeLinks {

  private SafeLinks() {}

  /**
   * Refuses a checkout with a symbolic link that leads out of the tree: an absolute target, or one
   * whose {@code ..} climbs above the tree, directly or through the other links it passes. Such a
   * link would hand whoever reads the tree another tenant's tree (the directory names are the
   * public {@link RepoRef#cacheKey()}) or any file of the host. Links that stay inside are kept.
   */
  static void refuseLinksOutOfTheTree(RepoRef repo, Path tree) throws IOException {
    try (Stream<Path> all = Files.walk(tree)) {
      for (Path p : (Iterable<Path>) all::iterator) {
        if (Files.isSymbolicLink(p) && resolveInside(tree, p.getParent(), p, new int[1]) == null) {
          String name =
              tree.relativize(p).toString().replace(p.getFileSystem().getSeparator(), "/");
          throw new RepoCloneException(
              repo.id(),
              Reason.UNSAFE_CONTENT,
              "the repository holds the symbolic link "
                  + Inputs.render(name)
                  + ", whose target leaves the working tree (an absolute path, or '..' above the"
                  + " repository's root); links may only point inside the repository: replace it"
                  + " with the file it points to or a link inside the repository",
              null);
        }
      }
    }
  }

  /** Symbolic links followed in one resolution before it counts as a loop, as in Linux. */
  private static final int MAX_LINK_HOPS = 40;

  /**
   * Where {@code link}, a symbolic link in {@code dir}, leads, resolving as the OS would but never
   * above {@code tree}: null when it leaves the tree or loops. Components that do not exist are
   * taken as written, so a dangling link is judged by where it would lead once its target exists.
   */
  private static Path resolveInside(Path tree, Path dir, Path link, int[] hops) throws IOException {
    if (++hops[0] > MAX_LINK_HOPS) {
      return null;
    }
    Path target = Files.readSymbolicLink(link);
    if (target.isAbsolute() || target.getRoot() != null) {
      return null;
    }
    Path current = dir;
    for (Path part : target) {
      String name = part.toString();
      if (name.isEmpty() || name.equals(".")) {
        continue;
      }
      if (name.equals("..")) {
        if (current.equals(tree)) {
          return null;
        }
        current = current.getParent();
        continue;
      }
      Path next = current.resolve(name);
      if (Files.isSymbolicLink(next)) {
        current = resolveInside(tree, current, next, hops);
        if (current == null) {
          return null;
        }
      } else {
        current = next;
      }
    }
    return current;
  }
}
