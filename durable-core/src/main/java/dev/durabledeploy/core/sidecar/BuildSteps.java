package dev.durabledeploy.core.sidecar;

import dev.durabledeploy.spi.support.Threads;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs the build steps before each start, one at a time: each bounded by the step timeout, its
 * output drained into a bounded, redacted {@link OutputTail}, and a failure described by the step's
 * number and program only: its arguments may hold a secret ({@code docker login -p ...}) that no
 * scrubber could tell from any other word.
 */
final class BuildSteps {

  /** The supervisor's side of a step: starting it unless stopping, and forgetting it after. */
  interface Gate {
    /**
     * Starts {@code pb} and records it as the running step, unless the supervisor is stopping (then
     * null); atomic with {@code stop()}, so a stop either sees the step or prevents it.
     */
    Process start(ProcessBuilder pb) throws IOException;

    /** {@code step} ended; the supervisor no longer needs to stop it. */
    void finished(Process step);
  }

  private final String name;
  private final ChildProcesses children;
  private final Duration timeout;
  private final Duration stopGrace;

  BuildSteps(String name, ChildProcesses children, Duration timeout, Duration stopGrace) {
    this.name = name;
    this.children = children;
    this.timeout = timeout;
    this.stopGrace = stopGrace;
  }

  /**
   * Runs one build step; returns null on success, else the failure reason. Its output is drained by
   * a reader thread (so a chatty step cannot block on a full pipe) into a bounded tail.
   */
  String run(int index, List<String> step, Gate gate) {
    String label = "build step " + (index + 1) + " (" + ChildProcesses.program(step) + ")";
    OutputTail tail = new OutputTail();
    Process p;
    try {
      ProcessBuilder pb = children.builder(step).redirectErrorStream(true);
      String notRunnable = children.notRunnable(step, pb, label);
      if (notRunnable != null) {
        return notRunnable;
      }
      p = gate.start(pb);
      if (p == null) {
        return "stopped before " + label;
      }
    } catch (IOException e) {
      return ChildProcesses.cannotRun(step, label, e);
    }
    Thread reader =
        Threads.startDaemon(
            "durable-sidecar-build-output-" + name,
            () -> {
              try {
                tail.drain(p.getInputStream());
              } catch (IOException closed) {
                // The step was stopped; what was read is the tail.
              }
            });
    try {
      if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        children.stopTree(p);
        reader.join(stopGrace.toMillis());
        return label
            + " did not finish within "
            + timeout
            + "; it was stopped with the processes it started (raise buildStepTimeout if it needs"
            + " longer); last output:\n"
            + tail.text();
      }
      reader.join(stopGrace.toMillis());
      int exit = p.exitValue();
      if (exit != 0) {
        return label + " exited with " + exit + "; last output:\n" + tail.text();
      }
      return null;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      children.stopTree(p);
      return label + " was interrupted";
    } finally {
      gate.finished(p);
    }
  }
}
