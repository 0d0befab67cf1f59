package dev.durabledeploy.spi.events;

import dev.durabledeploy.spi.exception.RepoCloneException;
import dev.durabledeploy.spi.git.RepoId;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;

/** The life of one materialisation of a working tree. The subject is {@code repo:<id>}. */
public sealed interface CloneEvent extends LifecycleEvent {

  RepoId repo();

  @Override
  default String topic() {
    return "clone";
  }

  @Override
  default String subject() {
    return "repo:" + repo().value();
  }

  @Override
  default boolean isTerminal() {
    return false;
  }

  /** A clone or refresh started; {@code url} is the redacted URL. */
  record CloneStarted(RepoId repo, String url, String branch, Instant at) implements CloneEvent {}

  /**
   * A step of the clone (e.g. "Receiving objects") reached {@code percent} (0..100, -1 unknown).
   */
  record CloneProgress(RepoId repo, String task, int percent, Instant at) implements CloneEvent {}

  record CloneSucceeded(RepoId repo, Path path, Duration took, Instant at) implements CloneEvent {
    @Override
    public boolean isTerminal() {
      return true;
    }
  }

  /** The message is the redacted, actionable message of the {@link RepoCloneException}. */
  record CloneFailed(RepoId repo, RepoCloneException.Reason reason, String message, Instant at)
      implements CloneEvent {
    @Override
    public boolean isTerminal() {
      return true;
    }
  }
}
