package dev.durabledeploy.core.sidecar;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Starts each child as the leader of a process group of its own and signals the whole group, where
 * the OS offers the tools: {@code setsid} and {@code kill} on the host's {@code PATH} (Linux; on
 * macOS, Windows and other systems without {@code setsid} children stay in the host's group and
 * only the descendants still linked to the child are found, see {@link SidecarSupervisor}).
 *
 * <p>A process that a child starts and detaches (a daemon: {@code cmd &} in a subshell that exits,
 * a double fork) is re-parented and no longer a descendant of the child, but it stays in the
 * child's group, so signalling the group reaches it. A process that leaves the group on purpose
 * ({@code setsid}, {@code daemon(3)}, a new session) is beyond any group: only the service manager
 * of the host (systemd's {@code KillMode=control-group}, a container) can stop it.
 *
 * <p>The JVM starts a child without making it a group leader, so {@code setsid} needs no fork: the
 * process the JVM sees is the command itself and its process id is the group's id.
 */
final class ProcessGroups {

  private final String setsid;
  private final String kill;

  private ProcessGroups(String setsid, String kill) {
    this.setsid = setsid;
    this.kill = kill;
  }

  /** Looks for {@code setsid} and {@code kill} on the host's {@code PATH}. */
  static ProcessGroups detect() {
    if (System.getProperty("os.name", "").startsWith("Windows")) {
      return new ProcessGroups(null, null);
    }
    String path = System.getenv("PATH");
    Optional<Path> setsid = onPath("setsid", path);
    Optional<Path> kill = onPath("kill", path);
    return setsid.isPresent() && kill.isPresent()
        ? new ProcessGroups(setsid.get().toString(), kill.get().toString())
        : new ProcessGroups(null, null);
  }

  /** Whether children get a group of their own. */
  boolean available() {
    return setsid != null;
  }

  /** The command that runs {@code command} as the leader of a new group. */
  List<String> wrap(List<String> command) {
    if (setsid == null) {
      return command;
    }
    List<String> wrapped = new ArrayList<>(command.size() + 1);
    wrapped.add(setsid);
    wrapped.addAll(command);
    return wrapped;
  }

  /**
   * Sends {@code signal} ({@code TERM}, {@code KILL}) to every process of the group {@code leader}
   * leads. A group whose processes are all gone is a no-op.
   */
  void signal(ProcessHandle leader, String signal) {
    if (kill == null) {
      return;
    }
    try {
      Process p =
          new ProcessBuilder(kill, "-s", signal, "--", "-" + leader.pid())
              .redirectErrorStream(true)
              .redirectOutput(ProcessBuilder.Redirect.DISCARD)
              .start();
      if (!p.waitFor(5, TimeUnit.SECONDS)) {
        p.destroyForcibly();
      }
    } catch (IOException cannotRun) {
      // kill vanished from the PATH: the descendants are still stopped one by one.
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * Whether {@code program} can be started with {@code environment}'s {@code PATH} from {@code
   * directory}: {@code setsid} reports a missing program only as exit code 127, so it is looked up
   * before the start to say what is missing.
   */
  static boolean isExecutable(String program, Map<String, String> environment, Path directory) {
    if (program.indexOf('/') >= 0 || program.indexOf(File.separatorChar) >= 0) {
      Path p = directory.resolve(program);
      return Files.isExecutable(p) && !Files.isDirectory(p);
    }
    return onPath(program, environment.get("PATH"), directory).isPresent();
  }

  private static Optional<Path> onPath(String program, String path) {
    return onPath(program, path, Path.of("").toAbsolutePath());
  }

  private static Optional<Path> onPath(String program, String path, Path directory) {
    if (path == null) {
      return Optional.empty();
    }
    for (String entry : path.split(File.pathSeparator, -1)) {
      Path candidate = (entry.isEmpty() ? directory : directory.resolve(entry)).resolve(program);
      if (Files.isExecutable(candidate) && !Files.isDirectory(candidate)) {
        return Optional.of(candidate.toAbsolutePath());
      }
    }
    return Optional.empty();
  }
}
