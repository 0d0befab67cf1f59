package dev.durabledeploy.core.sidecar;

import dev.durabledeploy.spi.Inputs;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * How the supervisor's children are made and ended: in the sidecar's directory, with the
 * allow-listed environment only, each leading a process group of its own where {@link
 * ProcessGroups} can, and stopped with everything they started. Also how a command is named in a
 * message: by its program only, never its arguments.
 */
final class ChildProcesses {

  private final Path directory;
  private final Set<String> inherited;
  private final Map<String, String> environment;
  private final Duration stopGrace;
  private final ProcessGroups groups = ProcessGroups.detect();

  ChildProcesses(
      Path directory, Set<String> inherited, Map<String, String> environment, Duration stopGrace) {
    this.directory = directory;
    this.inherited = inherited;
    this.environment = environment;
    this.stopGrace = stopGrace;
  }

  /**
   * A process builder for {@code command} in the sidecar's directory, whose environment is the
   * allow-listed host variables plus the host's values.
   */
  ProcessBuilder builder(List<String> command) {
    ProcessBuilder pb = new ProcessBuilder(groups.wrap(command)).directory(directory.toFile());
    pb.environment().keySet().retainAll(inherited);
    pb.environment().putAll(environment);
    return pb;
  }

  /**
   * Why {@code command} cannot run under {@code pb}, or null when it may: with process groups the
   * child is {@code setsid}, whose own "not found" would read as the child's exit code, so the
   * program is looked up first.
   */
  String notRunnable(List<String> command, ProcessBuilder pb, String label) {
    if (groups.available()
        && !ProcessGroups.isExecutable(command.get(0), pb.environment(), directory)) {
      return notFound(command, label);
    }
    return null;
  }

  /**
   * Stops a process and every process it started: the descendants are listed before the polite
   * signal (a child that dies first would orphan them), signalled with it, and whatever still runs
   * after the grace period (listed again: some may have been started meanwhile) is killed.
   */
  void stopTree(ProcessHandle root) {
    Set<ProcessHandle> tree = new HashSet<>(root.descendants().toList());
    // The root leads its own process group where ProcessGroups is available: the group holds the
    // processes that detached from the tree as well. A group outlives its leader while any member
    // lives, so its id cannot be reused meanwhile.
    groups.signal(root, "TERM");
    tree.forEach(ProcessHandle::destroy);
    root.destroy();
    try {
      root.onExit().get(stopGrace.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException | ExecutionException e) {
      // Still running after the grace period: killed below.
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    tree.addAll(root.descendants().toList());
    groups.signal(root, "KILL");
    root.destroyForcibly();
    tree.forEach(ProcessHandle::destroyForcibly);
  }

  void stopTree(Process process) {
    stopTree(process.toHandle());
  }

  /**
   * A command's program for a message: its file name, never an argument, with control characters
   * shown as {@code ?} and anything credential-like masked.
   */
  static String program(List<String> command) {
    String program = command.get(0);
    int slash = Math.max(program.lastIndexOf('/'), program.lastIndexOf('\\'));
    String name =
        slash >= 0 && slash < program.length() - 1 ? program.substring(slash + 1) : program;
    StringBuilder shown = new StringBuilder();
    name.codePoints()
        .limit(64)
        .forEach(c -> shown.appendCodePoint(Character.isISOControl(c) ? '?' : c));
    return Inputs.redactCredentials(shown.toString());
  }

  static String notFound(List<String> command, String label) {
    return Inputs.render(Inputs.redactCredentials(command.get(0)))
        + " was not found (needed by "
        + label
        + "): install it or put it on the PATH of the host process, or configure another command"
        + " for the sidecar";
  }

  static String cannotRun(List<String> command, String label, IOException e) {
    String message = String.valueOf(e.getMessage());
    if (message.contains("error=2") || message.contains("No such file")) {
      return notFound(command, label);
    }
    // The JDK's message names the program and directory, never the arguments.
    return "cannot run " + label + ": " + Inputs.redactCredentials(message);
  }
}
