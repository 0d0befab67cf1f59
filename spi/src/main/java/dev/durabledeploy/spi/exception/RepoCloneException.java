package dev.durabledeploy.spi.exception;

import dev.durabledeploy.spi.git.RepoId;

/**
 * A working tree could not be materialised. The host should answer "repository temporarily
 * unavailable" (HTTP 503) and may retry. The message is actionable and never contains credentials:
 * URLs appear redacted.
 */
public class RepoCloneException extends DurableDeployException {

  /** What went wrong, for hosts that map failures to user messages. */
  public enum Reason {
    REPO_NOT_FOUND,
    AUTH_REQUIRED,
    BRANCH_NOT_FOUND,
    DISK_FULL,
    TIMEOUT,
    CANCELLED,
    TRANSPORT,
    /**
     * The repository holds what is never checked out, e.g. a symbolic link whose target leaves the
     * working tree. Retrying does not help: the repository has to change.
     */
    UNSAFE_CONTENT,
    OTHER
  }

  private final RepoId repo;
  private final Reason reason;

  public RepoCloneException(RepoId repo, Reason reason, String message, Throwable cause) {
    super("repository '" + repo + "' unavailable (" + reason + "): " + message, cause);
    this.repo = repo;
    this.reason = reason;
  }

  public RepoId repo() {
    return repo;
  }

  public Reason reason() {
    return reason;
  }
}
