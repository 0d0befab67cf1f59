package dev.durabledeploy.git.jgit;

import dev.durabledeploy.spi.Inputs;
import dev.durabledeploy.spi.exception.RepoCloneException;
import dev.durabledeploy.spi.exception.RepoCloneException.Reason;
import dev.durabledeploy.spi.git.RepoRef;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns what went wrong in a clone into a {@link RepoCloneException} a host can act on: a reason
 * from JGit's exception chain, advice that names what to check, and a message with the raw URL and
 * anything credential-like taken out, since JGit's own messages and stacks carry the URL as given.
 */
final class CloneFailures {

  private static final Logger LOG = LoggerFactory.getLogger(JGitRepoSource.class);

  private final Path root;
  private final Duration cloneTimeout;

  CloneFailures(Path root, Duration cloneTimeout) {
    this.root = root;
    this.cloneTimeout = cloneTimeout;
  }

  static UrlPolicy.TransportRefused refusal(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof UrlPolicy.TransportRefused refused) {
        return refused;
      }
    }
    return null;
  }

  /** Maps a JGit failure to a reason and an actionable, redacted message. */
  RepoCloneException classify(RepoRef repo, Exception e, boolean timedOut) {
    // The repository's own URL and path are in JGit's messages; a "401" in a directory name must
    // not read as an HTTP status.
    String all = withoutLocation(chain(e), repo).toLowerCase(Locale.ROOT);
    Reason reason;
    String advice;
    if (timedOut || all.contains("timed out") || all.contains("timeout")) {
      reason = Reason.TIMEOUT;
      advice =
          "the clone took longer than "
              + cloneTimeout
              + "; check the network or raise cloneTimeout";
    } else if (all.contains("cancel")) {
      reason = Reason.CANCELLED;
      advice = "the clone was cancelled";
    } else if (all.contains("not authorized")
        || all.contains("authentication")
        || HTTP_AUTH_STATUS.matcher(all).find()) {
      reason = Reason.AUTH_REQUIRED;
      advice =
          "the remote asked for credentials or refused them; check the token for " + host(repo);
    } else if (all.contains("not found")
        || all.contains("does not exist")
        || all.contains("not a git repository")
        || all.contains("invalid remote")
        || all.contains("no remote repository")) {
      reason = Reason.REPO_NOT_FOUND;
      advice = "no repository at " + repo.url().redacted() + "; check the URL and access rights";
    } else if (all.contains("no space left")) {
      reason = Reason.DISK_FULL;
      advice = "the disk under " + root + " is full";
    } else if (all.contains("connection")
        || all.contains("unknownhost")
        || all.contains("unknown host")
        || all.contains("transport")) {
      reason = Reason.TRANSPORT;
      advice = "cannot reach " + host(repo) + "; check the URL and the network";
    } else {
      reason = Reason.OTHER;
      advice = "the clone failed";
    }
    String detail = redact(repo, e.getMessage());
    return failure(repo, reason, advice + (detail == null ? "" : " (" + detail + ")"), null);
  }

  RepoCloneException failure(RepoRef repo, Reason reason, String message, Throwable cause) {
    // The cause is dropped on purpose: JGit's messages and stack may carry the raw URL.
    LOG.warn("clone of {} failed ({}): {}", repo, reason, redact(repo, message));
    return new RepoCloneException(repo.id(), reason, redact(repo, message), null);
  }

  private static final java.util.regex.Pattern HTTP_AUTH_STATUS =
      java.util.regex.Pattern.compile("\\b40[13]\\b");

  private static String withoutLocation(String text, RepoRef repo) {
    String url = repo.url().value();
    String stripped = text.replace(url, "<url>");
    try {
      String path = java.net.URI.create(url).getPath();
      if (path != null && path.length() > 1) {
        stripped = stripped.replace(path, "<path>");
      }
    } catch (IllegalArgumentException notAUri) {
      // scp-like git URLs (git@host:org/repo): the URL itself was replaced above
    }
    return stripped;
  }

  private static String chain(Throwable e) {
    StringBuilder all = new StringBuilder();
    for (Throwable t = e; t != null; t = t.getCause()) {
      all.append(t.getClass().getSimpleName()).append(": ").append(t.getMessage()).append(" | ");
    }
    return all.toString();
  }

  private static String host(RepoRef repo) {
    String redacted = repo.url().redacted();
    int start = redacted.indexOf("://");
    String rest = start < 0 ? redacted : redacted.substring(start + 3);
    rest = rest.contains("@") ? rest.substring(rest.indexOf('@') + 1) : rest;
    int end = rest.indexOf('/');
    return end < 0 ? rest : rest.substring(0, end);
  }

  /** Removes the raw URL and anything credential-like from a message. */
  static String redact(RepoRef repo, String message) {
    if (message == null) {
      return null;
    }
    String out = message.replace(repo.url().value(), repo.url().redacted());
    for (String secret : repo.url().userInfo().map(i -> i.split(":", 2)).orElse(new String[0])) {
      if (secret.length() >= 3) {
        out = out.replace(secret, "***");
      }
    }
    return Inputs.redactCredentials(out);
  }
}
