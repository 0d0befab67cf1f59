package dev.durabledeploy.git.jgit;

import dev.durabledeploy.spi.events.CloneEvent;
import dev.durabledeploy.spi.git.RepoId;
import java.time.Clock;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.eclipse.jgit.lib.ProgressMonitor;

/** Turns JGit's progress into clone events and enforces the clone deadline. */
final class CloneProgress implements ProgressMonitor {
  private final RepoId repo;
  private final long deadline;
  private final Supplier<JGitRepoSource.ProgressHook> hook;
  private final Consumer<CloneEvent> publish;
  private final Clock clock;
  private String task = "";
  private int total;
  private int done;
  private int lastPercent = -1;

  CloneProgress(
      RepoId repo,
      long deadline,
      Supplier<JGitRepoSource.ProgressHook> hook,
      Consumer<CloneEvent> publish,
      Clock clock) {
    this.repo = repo;
    this.deadline = deadline;
    this.hook = hook;
    this.publish = publish;
    this.clock = clock;
  }

  @Override
  public void start(int totalTasks) {}

  @Override
  public void beginTask(String title, int totalWork) {
    task = title;
    total = totalWork;
    done = 0;
    lastPercent = -1;
    hook.get().onTask(repo, title);
    publish.accept(
        new CloneEvent.CloneProgress(repo, title, totalWork > 0 ? 0 : -1, clock.instant()));
  }

  @Override
  public void update(int completed) {
    done += completed;
    if (total > 0) {
      int percent = (int) Math.min(100, done * 100L / total);
      if (percent / 10 != lastPercent / 10) {
        lastPercent = percent;
        publish.accept(new CloneEvent.CloneProgress(repo, task, percent, clock.instant()));
      }
    }
  }

  @Override
  public void endTask() {}

  @Override
  public boolean isCancelled() {
    return System.nanoTime() > deadline;
  }

  @Override
  public void showDuration(boolean enabled) {}
}
