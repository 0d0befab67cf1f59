package dev.durabledeploy.git.jgit;

import dev.durabledeploy.spi.ConfigurationException;
import dev.durabledeploy.spi.Inputs;
import dev.durabledeploy.spi.RepoCloneException;
import dev.durabledeploy.spi.RepoCloneException.Reason;
import dev.durabledeploy.spi.events.CloneEvent;
import dev.durabledeploy.spi.events.EventBus;
import dev.durabledeploy.spi.git.RepoId;
import dev.durabledeploy.spi.git.RepoRef;
import dev.durabledeploy.spi.git.RepoSource;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.PasswordAuthentication;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Collection;
import java.util.Comparator;
import java.util.Locale;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Function;
import java.util.stream.Stream;
import org.eclipse.jgit.api.Git;
import org.eclipse.jgit.api.errors.GitAPIException;
import org.eclipse.jgit.lib.ProgressMonitor;
import org.eclipse.jgit.lib.Ref;
import org.eclipse.jgit.transport.CredentialsProvider;
import org.eclipse.jgit.transport.UsernamePasswordCredentialsProvider;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Working trees as a cache of their remotes: every reader asks {@link #ensureClone}, which answers
 * a warm hit with one {@code stat} of a completion marker — no git call, no lock — and rebuilds a
 * missing tree on demand.
 *
 * <p>A miss clones {@code url@branch} (shallow, depth 1 by default) into a temp directory on the
 * same filesystem and renames it into place with {@code ATOMIC_MOVE}; the marker is written last,
 * so a half-written tree is never visible. Within a process, concurrent callers for one repository
 * share one clone (and its result or failure); across processes sharing the volume, an OS file lock
 * makes the others find the finished tree instead of cloning again. Different repositories clone in
 * parallel. Leftover temp directories of crashed clones are swept at start.
 *
 * <p>Credentials come from the provider, or from the URL's user info, and are handed to the
 * transport only: the URL stored in {@code .git/config} has none, and every message, log line and
 * event shows the URL redacted. Failures are {@link RepoCloneException}s whose reason a host maps
 * to "repository temporarily unavailable".
 *
 * <p>Layout under the root: {@code <repoId>/} the trees; {@code .durable/complete/<repoId>} the
 * markers; {@code .durable/locks/} the file locks; {@code .durable/tmp/} clones in progress. Repo
 * ids never start with a dot, so nothing collides.
 */
public final class JGitRepoSource implements RepoSource {

  public static final int DEFAULT_DEPTH = 1;
  public static final Duration DEFAULT_CLONE_TIMEOUT = Duration.ofMinutes(10);

  private static final Logger LOG = LoggerFactory.getLogger(JGitRepoSource.class);

  private final Path root;
  private final Path markers;
  private final Path locks;
  private final Path tmp;
  private final int depth;
  private final Duration cloneTimeout;
  private final Function<RepoRef, Optional<PasswordAuthentication>> credentials;
  private final EventBus events;
  private final Clock clock;
  private final ConcurrentHashMap<RepoId, CompletableFuture<Path>> inFlight =
      new ConcurrentHashMap<>();
  private final ConcurrentHashMap<RepoId, ReentrantReadWriteLock> readers =
      new ConcurrentHashMap<>();
  private final AtomicInteger clones = new AtomicInteger();
  volatile ProgressHook progressHook = (repo, task) -> {};

  /** Test seam: called at every progress step of a clone; may throw to simulate a crash. */
  @FunctionalInterface
  interface ProgressHook {
    void onTask(RepoId repo, String task);
  }

  private JGitRepoSource(Builder b) {
    try {
      this.root = Files.createDirectories(b.root).toRealPath();
      Path durable = root.resolve(".durable");
      this.markers = Files.createDirectories(durable.resolve("complete"));
      this.locks = Files.createDirectories(durable.resolve("locks"));
      this.tmp = Files.createDirectories(durable.resolve("tmp"));
    } catch (IOException e) {
      throw new ConfigurationException(
          "root", "cannot create or open " + b.root + ": " + e.getMessage(), e);
    }
    this.depth = b.depth;
    this.cloneTimeout = b.cloneTimeout;
    this.credentials = b.credentials;
    this.events = b.events;
    this.clock = b.clock;
    sweep(b.sweepOlderThan);
  }

  public static Builder builder(Path root) {
    return new Builder(root);
  }

  /** Clones this instance has run: warm hits and shared clones do not count. */
  public int cloneCount() {
    return clones.get();
  }

  private Path tree(RepoId id) {
    Path tree = root.resolve(id.value()).normalize();
    if (!tree.startsWith(root) || tree.equals(root)) {
      throw new IllegalStateException("repo id " + id + " resolves outside the root");
    }
    return tree;
  }

  private Path marker(RepoId id) {
    return markers.resolve(id.value() + ".complete");
  }

  // ---- the chokepoint ------------------------------------------------------------------------

  @Override
  public Path ensureClone(RepoRef repo) {
    Path tree = tree(repo.id());
    if (Files.exists(marker(repo.id()))) {
      return tree;
    }
    return shared(repo, false);
  }

  @Override
  public Path refresh(RepoRef repo) {
    ReentrantReadWriteLock rw =
        readers.computeIfAbsent(repo.id(), k -> new ReentrantReadWriteLock());
    rw.writeLock().lock();
    try {
      return shared(repo, true);
    } finally {
      rw.writeLock().unlock();
    }
  }

  /**
   * Runs {@code reader} on the repository's tree while no {@link #refresh} or {@link #evict} of
   * this instance can replace or remove it.
   */
  public <T> T withTree(RepoRef repo, Function<Path, T> reader) {
    ReentrantReadWriteLock rw =
        readers.computeIfAbsent(repo.id(), k -> new ReentrantReadWriteLock());
    rw.readLock().lock();
    try {
      return reader.apply(ensureClone(repo));
    } finally {
      rw.readLock().unlock();
    }
  }

  /** One materialisation per repository at a time in this process; callers share its outcome. */
  private Path shared(RepoRef repo, boolean refresh) {
    CompletableFuture<Path> mine = new CompletableFuture<>();
    CompletableFuture<Path> running = inFlight.putIfAbsent(repo.id(), mine);
    if (running != null && !refresh) {
      return join(running);
    }
    if (running != null) {
      join(running); // a refresh waits for the clone in flight, then does its own
      return shared(repo, true);
    }
    try {
      mine.complete(materialise(repo, refresh));
    } catch (RuntimeException e) {
      mine.completeExceptionally(e);
    } finally {
      inFlight.remove(repo.id(), mine);
    }
    return join(mine);
  }

  private static Path join(CompletableFuture<Path> future) {
    try {
      return future.join();
    } catch (CompletionException e) {
      if (e.getCause() instanceof RuntimeException r) {
        throw r;
      }
      throw e;
    }
  }

  /** Clones under the cross-process file lock; another process may have done it meanwhile. */
  private Path materialise(RepoRef repo, boolean refresh) {
    Path tree = tree(repo.id());
    Path marker = marker(repo.id());
    Path lockFile = locks.resolve(repo.id().value().replace('/', '~') + ".lock");
    // Lock: the repository's file lock, so processes sharing this volume clone it once between
    // them.
    try (FileChannel channel =
            FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        FileLock held = channel.lock()) {
      if (!refresh && Files.exists(marker)) {
        return tree;
      }
      Path fresh = cloneToTemp(repo);
      Files.createDirectories(marker.getParent());
      Files.deleteIfExists(marker);
      Path previous = null;
      if (Files.exists(tree)) {
        previous = tmp.resolve("old-" + UUID.randomUUID());
        Files.move(tree, previous, StandardCopyOption.ATOMIC_MOVE);
      }
      Files.createDirectories(tree.getParent());
      Files.move(fresh, tree, StandardCopyOption.ATOMIC_MOVE);
      Files.writeString(marker, clock.instant().toString());
      if (previous != null) {
        deleteTree(previous);
      }
      return tree;
    } catch (IOException e) {
      throw failure(
          repo,
          e.getMessage() != null && e.getMessage().contains("No space left")
              ? Reason.DISK_FULL
              : Reason.OTHER,
          "preparing the working tree failed: " + e.getMessage(),
          e);
    }
  }

  private Path cloneToTemp(RepoRef repo) {
    Instant started = clock.instant();
    publish(new CloneEvent.CloneStarted(repo.id(), repo.url().redacted(), repo.branch(), started));
    Path temp = tmp.resolve(repo.id().value().replace('/', '~') + "-" + UUID.randomUUID());
    String url = repo.url().withoutCredentials().value();
    CredentialsProvider auth = credentialsFor(repo);
    long deadline = System.nanoTime() + cloneTimeout.toNanos();
    try {
      Collection<Ref> heads =
          Git.lsRemoteRepository()
              .setRemote(url)
              .setHeads(true)
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
              .setCredentialsProvider(auth)
              .setTimeout((int) Math.max(1, cloneTimeout.toSeconds()))
              .setProgressMonitor(new Progress(repo.id(), deadline))
              .call()) {
        clones.incrementAndGet();
      }
      publish(
          new CloneEvent.CloneSucceeded(
              repo.id(),
              tree(repo.id()),
              Duration.between(started, clock.instant()),
              clock.instant()));
      return temp;
    } catch (RepoCloneException e) {
      deleteQuietly(temp);
      publish(new CloneEvent.CloneFailed(repo.id(), e.reason(), e.getMessage(), clock.instant()));
      throw e;
    } catch (GitAPIException | RuntimeException e) {
      deleteQuietly(temp);
      RepoCloneException failure = classify(repo, e, System.nanoTime() > deadline);
      publish(
          new CloneEvent.CloneFailed(
              repo.id(), failure.reason(), failure.getMessage(), clock.instant()));
      throw failure;
    }
  }

  private CredentialsProvider credentialsFor(RepoRef repo) {
    Optional<PasswordAuthentication> given = credentials.apply(repo);
    if (given.isPresent()) {
      return new UsernamePasswordCredentialsProvider(
          given.get().getUserName(), given.get().getPassword());
    }
    return repo.url()
        .userInfo()
        .map(
            info -> {
              int colon = info.indexOf(':');
              String user = colon < 0 ? info : info.substring(0, colon);
              String secret = colon < 0 ? "" : info.substring(colon + 1);
              return (CredentialsProvider)
                  new UsernamePasswordCredentialsProvider(
                      java.net.URLDecoder.decode(user, java.nio.charset.StandardCharsets.UTF_8),
                      java.net.URLDecoder.decode(secret, java.nio.charset.StandardCharsets.UTF_8));
            })
        .orElse(null);
  }

  /** Maps a JGit failure to a reason and an actionable, redacted message. */
  private RepoCloneException classify(RepoRef repo, Exception e, boolean timedOut) {
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

  private RepoCloneException failure(RepoRef repo, Reason reason, String message, Throwable cause) {
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
  private static String redact(RepoRef repo, String message) {
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

  private void publish(CloneEvent event) {
    if (events != null) {
      events.publish(event);
    }
  }

  /** Turns JGit's progress into clone events and enforces the clone deadline. */
  private final class Progress implements ProgressMonitor {
    private final RepoId repo;
    private final long deadline;
    private String task = "";
    private int total;
    private int done;
    private int lastPercent = -1;

    Progress(RepoId repo, long deadline) {
      this.repo = repo;
      this.deadline = deadline;
    }

    @Override
    public void start(int totalTasks) {}

    @Override
    public void beginTask(String title, int totalWork) {
      task = title;
      total = totalWork;
      done = 0;
      lastPercent = -1;
      progressHook.onTask(repo, title);
      publish(new CloneEvent.CloneProgress(repo, title, totalWork > 0 ? 0 : -1, clock.instant()));
    }

    @Override
    public void update(int completed) {
      done += completed;
      if (total > 0) {
        int percent = (int) Math.min(100, done * 100L / total);
        if (percent / 10 != lastPercent / 10) {
          lastPercent = percent;
          publish(new CloneEvent.CloneProgress(repo, task, percent, clock.instant()));
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

  // ---- eviction and housekeeping -------------------------------------------------------------

  @Override
  public boolean evict(RepoRef repo) {
    ReentrantReadWriteLock rw =
        readers.computeIfAbsent(repo.id(), k -> new ReentrantReadWriteLock());
    rw.writeLock().lock();
    Path lockFile = locks.resolve(repo.id().value().replace('/', '~') + ".lock");
    try (FileChannel channel =
            FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        FileLock held = channel.lock()) {
      boolean hadMarker = Files.deleteIfExists(marker(repo.id()));
      Path tree = tree(repo.id());
      if (!Files.exists(tree)) {
        return hadMarker;
      }
      Path doomed = tmp.resolve("evicted-" + UUID.randomUUID());
      Files.move(tree, doomed, StandardCopyOption.ATOMIC_MOVE);
      deleteTree(doomed);
      return true;
    } catch (IOException e) {
      throw new UncheckedIOException("evicting " + repo.id() + " failed", e);
    } finally {
      rw.writeLock().unlock();
    }
  }

  /** Removes temp directories of crashed clones: older than {@code age}, so live clones stay. */
  private void sweep(Duration age) {
    Instant cutoff = clock.instant().minus(age);
    try (Stream<Path> leftovers = Files.list(tmp)) {
      for (Path p : leftovers.toList()) {
        FileTime modified = Files.getLastModifiedTime(p);
        if (modified.toInstant().isBefore(cutoff)) {
          LOG.info("removing the leftover of a crashed clone: {}", p.getFileName());
          deleteTree(p);
        }
      }
    } catch (IOException e) {
      LOG.warn("sweeping leftover clones under {} failed: {}", tmp, e.getMessage());
    }
  }

  private static void deleteQuietly(Path dir) {
    try {
      deleteTree(dir);
    } catch (IOException e) {
      // Swept at the next start.
    }
  }

  private static void deleteTree(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> walk = Files.walk(dir)) {
      for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
        try {
          p.toFile().setWritable(true);
          Files.delete(p);
        } catch (NoSuchFileException gone) {
          // Deleted by someone else.
        }
      }
    }
  }

  /** Configures a {@link JGitRepoSource}. */
  public static final class Builder {
    private final Path root;
    private int depth = DEFAULT_DEPTH;
    private Duration cloneTimeout = DEFAULT_CLONE_TIMEOUT;
    private Function<RepoRef, Optional<PasswordAuthentication>> credentials = r -> Optional.empty();
    private EventBus events;
    private Clock clock = Clock.systemUTC();
    private Duration sweepOlderThan;

    private Builder(Path root) {
      this.root = root;
    }

    /** Commits to fetch; 0 for the full history. */
    public Builder depth(int depth) {
      if (depth < 0) {
        throw new ConfigurationException("depth", "must be 0 (full) or positive");
      }
      this.depth = depth;
      return this;
    }

    /** The longest a clone may take before it fails with {@code TIMEOUT}. */
    public Builder cloneTimeout(Duration timeout) {
      if (timeout == null || timeout.isNegative() || timeout.isZero()) {
        throw new ConfigurationException("cloneTimeout", "must be positive");
      }
      this.cloneTimeout = timeout;
      return this;
    }

    /**
     * Credentials per repository (e.g. a token per host), handed to the transport only and never
     * written to {@code .git/config}. Without one, the URL's user info is used.
     */
    public Builder credentials(Function<RepoRef, Optional<PasswordAuthentication>> credentials) {
      this.credentials = credentials;
      return this;
    }

    /** Where clone events go (e.g. {@code DurableDeploy.events()}). */
    public Builder events(EventBus events) {
      this.events = events;
      return this;
    }

    public Builder clock(Clock clock) {
      this.clock = clock;
      return this;
    }

    public JGitRepoSource build() {
      if (root == null) {
        throw new ConfigurationException("root", "is required");
      }
      if (sweepOlderThan == null) {
        sweepOlderThan = cloneTimeout.multipliedBy(2);
      }
      return new JGitRepoSource(this);
    }
  }
}
