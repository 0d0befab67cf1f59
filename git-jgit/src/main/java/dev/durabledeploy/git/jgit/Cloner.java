package dev.durabledeploy.git.jgit;

import dev.durabledeploy.spi.events.CloneEvent;
import dev.durabledeploy.spi.events.EventBus;
import dev.durabledeploy.spi.exception.InvalidInputException;
import dev.durabledeploy.spi.exception.RepoCloneException;
import dev.durabledeploy.spi.exception.RepoCloneException.Reason;
import dev.durabledeploy.spi.git.RepoRef;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Collection;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.eclipse.jgit.api.Git;
import org.eclipse.jgit.api.errors.GitAPIException;
import org.eclipse.jgit.lib.Ref;
import org.eclipse.jgit.transport.CredentialsProvider;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One clone of {@code url@branch} into a fresh temp directory: the URL policy's checks, the branch
 * asked for by name, the shallow clone under the deadline, the link check, and the clone events. A
 * failure removes the half-made directory and is thrown as {@link CloneFailures} words it.
 */
final class Cloner {

  private static final Logger LOG = LoggerFactory.getLogger(JGitRepoSource.class);

  private final CacheLayout layout;
  private final UrlPolicy policy;
  private final CloneCredentials credentials;
  private final CloneFailures failures;
  private final int depth;
  private final Duration cloneTimeout;
  private final EventBus events;
  private final Clock clock;
  private final Supplier<JGitRepoSource.ProgressHook> hook;
  private final AtomicInteger clones = new AtomicInteger();

  Cloner(
      CacheLayout layout,
      UrlPolicy policy,
      CloneCredentials credentials,
      CloneFailures failures,
      int depth,
      Duration cloneTimeout,
      EventBus events,
      Clock clock,
      Supplier<JGitRepoSource.ProgressHook> hook) {
    this.layout = layout;
    this.policy = policy;
    this.credentials = credentials;
    this.failures = failures;
    this.depth = depth;
    this.cloneTimeout = cloneTimeout;
    this.events = events;
    this.clock = clock;
    this.hook = hook;
  }

  /** Clones run: warm hits and shared clones do not count. */
  int count() {
    return clones.get();
  }

  Path cloneToTemp(RepoRef repo, CacheLayout.Slot slot) {
    Instant started = clock.instant();
    publish(new CloneEvent.CloneStarted(repo.id(), repo.url().redacted(), repo.branch(), started));
    Path temp = layout.temp("clone-");
    // The transport gets no secret in the URL (ssh user names stay: they say whom to log in as).
    String url = repo.url().withoutSecrets().value();
    CredentialsProvider auth = credentials.credentialsFor(repo);
    long deadline = System.nanoTime() + cloneTimeout.toNanos();
    try {
      policy.precheck(repo);
      Collection<Ref> heads =
          Git.lsRemoteRepository()
              .setRemote(url)
              .setHeads(true)
              .setTransportConfigCallback(policy::configure)
              .setCredentialsProvider(auth)
              .setTimeout((int) Math.max(1, cloneTimeout.toSeconds()))
              .call();
      if (heads.stream().noneMatch(r -> r.getName().equals("refs/heads/" + repo.branch()))) {
        throw new RepoCloneException(
            repo.id(),
            Reason.BRANCH_NOT_FOUND,
            "branch '"
                + repo.branch()
                + "' does not exist at "
                + repo.url().redacted()
                + "; check the branch name (it has "
                + heads.size()
                + " branches)",
            null);
      }
      try (Git git =
          Git.cloneRepository()
              .setURI(url)
              .setDirectory(temp.toFile())
              .setBranch("refs/heads/" + repo.branch())
              .setBranchesToClone(java.util.List.of("refs/heads/" + repo.branch()))
              .setCloneAllBranches(false)
              .setDepth(depth)
              .setTransportConfigCallback(policy::configure)
              .setCredentialsProvider(auth)
              .setTimeout((int) Math.max(1, cloneTimeout.toSeconds()))
              .setProgressMonitor(
                  new CloneProgress(repo.id(), deadline, hook, this::publish, clock))
              .call()) {
        clones.incrementAndGet();
      }
      SafeLinks.refuseLinksOutOfTheTree(repo, temp);
      publish(
          new CloneEvent.CloneSucceeded(
              repo.id(), slot.tree(), Duration.between(started, clock.instant()), clock.instant()));
      return temp;
    } catch (RepoCloneException e) {
      CacheLayout.deleteQuietly(temp);
      publish(new CloneEvent.CloneFailed(repo.id(), e.reason(), e.getMessage(), clock.instant()));
      throw e;
    } catch (GitAPIException | RuntimeException | IOException e) {
      CacheLayout.deleteQuietly(temp);
      UrlPolicy.TransportRefused refused = CloneFailures.refusal(e);
      if (refused != null) {
        String reason = refused.getMessage() + "; check the URL or the host's AddressFilter";
        LOG.warn("clone of {} refused: {}", repo, reason);
        publish(new CloneEvent.CloneFailed(repo.id(), Reason.TRANSPORT, reason, clock.instant()));
        throw new InvalidInputException("url", reason);
      }
      RepoCloneException failure = failures.classify(repo, e, System.nanoTime() > deadline);
      publish(
          new CloneEvent.CloneFailed(
              repo.id(), failure.reason(), failure.getMessage(), clock.instant()));
      throw failure;
    }
  }

  private void publish(CloneEvent event) {
    if (events != null) {
      events.publish(event);
    }
  }
}
