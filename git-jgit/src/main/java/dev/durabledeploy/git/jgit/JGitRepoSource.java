package dev.durabledeploy.git.jgit;

import dev.durabledeploy.spi.ConfigurationException;
import dev.durabledeploy.spi.Inputs;
import dev.durabledeploy.spi.InvalidInputException;
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
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Collection;
import java.util.Comparator;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
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
import org.eclipse.jgit.transport.CredentialItem;
import org.eclipse.jgit.transport.CredentialsProvider;
import org.eclipse.jgit.transport.URIish;
import org.eclipse.jgit.transport.UsernamePasswordCredentialsProvider;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Working trees as a cache of their remotes: every reader asks {@link #ensureClone}, which answers
 * a warm hit with two {@code stat}s, of a completion marker and of the tree's {@code .git} — no git
 * call, no lock — and rebuilds a missing tree on demand, also one that vanished behind its marker.
 *
 * <p>A miss clones {@code url@branch} (shallow, depth 1 by default) into a temp directory on the
 * same filesystem and renames it into place with {@code ATOMIC_MOVE}; the marker is written last,
 * so a half-written tree is never visible. Within an instance, concurrent callers for one
 * repository share one clone (and its result or failure); every other caller of the tree (another
 * instance on the same root in this JVM, an {@link #evict}, another process sharing the volume)
 * waits for the tree's lock (an in-process lock, then an OS file lock) and then finds the finished
 * tree instead of cloning again. Different repositories clone in parallel. Leftover temp
 * directories of crashed clones are swept at start.
 *
 * <p><b>Symbolic links.</b> A checkout that holds a symbolic link whose target leaves the tree (an
 * absolute path, or {@code ..} above the repository's root, directly or through other links) is
 * refused with a {@link RepoCloneException} of reason {@code UNSAFE_CONTENT} that names the link;
 * the half-made tree is removed and an existing tree stays as it was. Such a link would let a
 * tenant's repository read another tenant's tree or any file of the host through its tree. Links
 * that stay inside the tree are kept.
 *
 * <p><b>Identity.</b> A tree belongs to what determines its content: the repo id, the URL without
 * secrets and the branch ({@link RepoRef#cacheKey()}). Asking for the same id with another URL or
 * branch clones that remote into a tree of its own; it never gets the other's tree, so a host where
 * tenants name repositories cannot hand one tenant's files to another by id. The old tree stays
 * until {@link #evict} of its reference. Credentials are not part of the identity (a rotated token
 * keeps the tree) and a warm hit does not re-authenticate: a host that lets tenants pick ids should
 * prefix them with the tenant.
 *
 * <p><b>URL policy.</b> Only the schemes the host allows are cloned: {@code https} and {@code ssh}
 * (with scp-like {@code user@host:path}) by default. {@code http} and {@code git://} are off
 * (cleartext: anyone on the path can change the content or read a token) and {@code file} is off
 * (it reads the host's own disk); {@link Builder#allowedSchemes} turns them on, e.g. {@code file}
 * in tests. A {@code file} URL into the clone root is always refused. Every address a connection
 * goes to passes the {@link AddressFilter} ({@link AddressFilter#NOT_LINK_LOCAL} by default). A
 * refused URL is an {@link dev.durabledeploy.spi.InvalidInputException} on field {@code url}.
 *
 * <p><b>Credentials</b> come from the provider, or from the URL's user info (percent-decoded as RFC
 * 3986 says: {@code %2B} is {@code +}, and {@code +} stays {@code +}), and are handed to the
 * transport only: the URL stored in {@code .git/config} has none, and every message, log line and
 * event shows the URL redacted. ssh URLs keep their user name ({@code ssh://git@host/o/r}, {@code
 * deploy@host:r}); keys, {@code known_hosts} and {@code config} are read from {@link
 * Builder#sshDirectory} ({@code ~/.ssh} by default), and an unknown host key is refused. Failures
 * are {@link RepoCloneException}s whose reason a host maps to "repository temporarily unavailable".
 *
 * <p><b>Layout</b> under the root: {@code <cacheKey>/} the trees, one flat directory per identity
 * ({@code acme~web@<hash>}), so no two ids nest; {@code .durable/complete/<cacheKey>.complete} the
 * markers; {@code .durable/locks/<cacheKey>.lock} the file locks; {@code .durable/tmp/} clones in
 * progress. Trees of the layout before 0.2 ({@code <repoId>/}) are no longer read; delete them.
 * Deleting a tree never follows a symbolic link out of it.
 */
public final class JGitRepoSource implements RepoSource {

  public static final int DEFAULT_DEPTH = 1;
  public static final Duration DEFAULT_CLONE_TIMEOUT = Duration.ofMinutes(10);

  /** The schemes cloned unless the host says otherwise; scp-like URLs count as {@code ssh}. */
  public static final Set<String> DEFAULT_SCHEMES = Set.of("https", "ssh");

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
  private final UrlPolicy policy;
  // Keyed by RepoRef.cacheKey(): one entry per tree.
  private final ConcurrentHashMap<String, CompletableFuture<Path>> inFlight =
      new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, ReentrantReadWriteLock> readers =
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
    this.policy = new UrlPolicy(b.schemes, b.addressFilter, root, b.sshDirectory);
    sweep(b.sweepOlderThan);
  }

  public static Builder builder(Path root) {
    return new Builder(root);
  }

  /** Clones this instance has run: warm hits and shared clones do not count. */
  public int cloneCount() {
    return clones.get();
  }

  /** Where one identity's tree, marker and lock live: flat names, so ids never nest. */
  private record Slot(String key, Path tree, Path marker, Path lock) {}

  /**
   * A warm hit: the marker, written after the tree was moved into place, and the tree's {@code
   * .git}, since a tree may vanish behind a kept marker (a temp cleaner, an operator, a volume
   * restored in part) and must then be rebuilt, not handed out empty. Two stats, no git call.
   */
  private static boolean isComplete(Slot slot) {
    return Files.exists(slot.marker()) && Files.isDirectory(slot.tree().resolve(".git"));
  }

  private Slot slot(RepoRef repo) {
    String key = repo.cacheKey();
    return new Slot(
        key, root.resolve(key), markers.resolve(key + ".complete"), locks.resolve(key + ".lock"));
  }

  // ---- the chokepoint ------------------------------------------------------------------------

  @Override
  public Path ensureClone(RepoRef repo) {
    policy.check(repo);
    Slot slot = slot(repo);
    if (isComplete(slot)) {
      return slot.tree();
    }
    return shared(repo, slot, false);
  }

  @Override
  public Path refresh(RepoRef repo) {
    policy.check(repo);
    Slot slot = slot(repo);
    ReentrantReadWriteLock rw =
        readers.computeIfAbsent(slot.key(), k -> new ReentrantReadWriteLock());
    rw.writeLock().lock();
    try {
      return shared(repo, slot, true);
    } finally {
      rw.writeLock().unlock();
    }
  }

  /**
   * Runs {@code reader} on the repository's tree while no {@link #refresh} or {@link #evict} of
   * this instance can replace or remove it.
   */
  public <T> T withTree(RepoRef repo, Function<Path, T> reader) {
    policy.check(repo);
    ReentrantReadWriteLock rw =
        readers.computeIfAbsent(repo.cacheKey(), k -> new ReentrantReadWriteLock());
    rw.readLock().lock();
    try {
      return reader.apply(ensureClone(repo));
    } finally {
      rw.readLock().unlock();
    }
  }

  /** One materialisation per repository at a time in this process; callers share its outcome. */
  private Path shared(RepoRef repo, Slot slot, boolean refresh) {
    CompletableFuture<Path> mine = new CompletableFuture<>();
    CompletableFuture<Path> running = inFlight.putIfAbsent(slot.key(), mine);
    if (running != null && !refresh) {
      return join(running);
    }
    if (running != null) {
      join(running); // a refresh waits for the clone in flight, then does its own
      return shared(repo, slot, true);
    }
    try {
      mine.complete(materialise(repo, slot, refresh));
    } catch (RuntimeException e) {
      mine.completeExceptionally(e);
    } finally {
      inFlight.remove(slot.key(), mine);
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
  private Path materialise(RepoRef repo, Slot slot, boolean refresh) {
    Path tree = slot.tree();
    Path marker = slot.marker();
    // Lock: the tree's lock (one per cache key; in-process, then the file lock), so threads,
    // instances and processes sharing this volume clone it once between them and never replace a
    // tree another is writing.
    try (TreeLock held = TreeLock.acquire(slot.lock())) {
      if (!refresh && isComplete(slot)) {
        return tree;
      }
      Path fresh = cloneToTemp(repo, slot);
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
    } catch (java.io.InterruptedIOException e) {
      throw failure(repo, Reason.CANCELLED, "interrupted while waiting for the tree's lock", e);
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

  private Path cloneToTemp(RepoRef repo, Slot slot) {
    Instant started = clock.instant();
    publish(new CloneEvent.CloneStarted(repo.id(), repo.url().redacted(), repo.branch(), started));
    // Not named after the key: a key of a 200-character id plus a UUID would pass the 255 bytes a
    // file name may have.
    Path temp = tmp.resolve("clone-" + UUID.randomUUID());
    // The transport gets no secret in the URL (ssh user names stay: they say whom to log in as).
    String url = repo.url().withoutSecrets().value();
    CredentialsProvider auth = credentialsFor(repo);
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
              .setProgressMonitor(new Progress(repo.id(), deadline))
              .call()) {
        clones.incrementAndGet();
      }
      refuseLinksOutOfTheTree(repo, temp);
      publish(
          new CloneEvent.CloneSucceeded(
              repo.id(), slot.tree(), Duration.between(started, clock.instant()), clock.instant()));
      return temp;
    } catch (RepoCloneException e) {
      deleteQuietly(temp);
      publish(new CloneEvent.CloneFailed(repo.id(), e.reason(), e.getMessage(), clock.instant()));
      throw e;
    } catch (GitAPIException | RuntimeException | IOException e) {
      deleteQuietly(temp);
      UrlPolicy.TransportRefused refused = refusal(e);
      if (refused != null) {
        String reason = refused.getMessage() + "; check the URL or the host's AddressFilter";
        LOG.warn("clone of {} refused: {}", repo, reason);
        publish(new CloneEvent.CloneFailed(repo.id(), Reason.TRANSPORT, reason, clock.instant()));
        throw new InvalidInputException("url", reason);
      }
      RepoCloneException failure = classify(repo, e, System.nanoTime() > deadline);
      publish(
          new CloneEvent.CloneFailed(
              repo.id(), failure.reason(), failure.getMessage(), clock.instant()));
      throw failure;
    }
  }

  /**
   * Refuses a checkout with a symbolic link that leads out of the tree: an absolute target, or one
   * whose {@code ..} climbs above the tree, directly or through the other links it passes. Such a
   * link would hand whoever reads the tree another tenant's tree (the directory names are the
   * public {@link RepoRef#cacheKey()}) or any file of the host. Links that stay inside are kept.
   */
  private static void refuseLinksOutOfTheTree(RepoRef repo, Path tree) throws IOException {
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

  private static UrlPolicy.TransportRefused refusal(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof UrlPolicy.TransportRefused refused) {
        return refused;
      }
    }
    return null;
  }

  private CredentialsProvider credentialsFor(RepoRef repo) {
    Optional<PasswordAuthentication> given = credentials.apply(repo);
    if (given.isPresent()) {
      return new UsernamePasswordCredentialsProvider(
          given.get().getUserName(), given.get().getPassword());
    }
    Optional<String> info = repo.url().userInfo();
    if (info.isEmpty()) {
      return null;
    }
    int colon = info.get().indexOf(':');
    if (colon < 0 && repo.url().scheme().equals("ssh")) {
      return null; // an ssh user name alone is in the URL the transport gets; keys do the rest
    }
    String user = colon < 0 ? info.get() : info.get().substring(0, colon);
    String secret = colon < 0 ? "" : info.get().substring(colon + 1);
    if (repo.url().scheme().equals("ssh")) {
      return new SshPassword(percentDecode(user), percentDecode(secret));
    }
    return new UsernamePasswordCredentialsProvider(percentDecode(user), percentDecode(secret));
  }

  /**
   * The password of an ssh URL. JGit's ssh client asks only an interactive provider for it, so this
   * one says it is; it answers the user name and password prompts and nothing else, so an unknown
   * host key (a yes/no question) is still refused.
   */
  private static final class SshPassword extends UsernamePasswordCredentialsProvider {
    SshPassword(String user, String password) {
      super(user, password);
    }

    @Override
    public boolean isInteractive() {
      return true;
    }

    @Override
    public boolean supports(CredentialItem... items) {
      for (CredentialItem item : items) {
        if (!(item instanceof CredentialItem.InformationalMessage) && !super.supports(item)) {
          return false;
        }
      }
      return true;
    }

    @Override
    public boolean get(URIish uri, CredentialItem... items) {
      CredentialItem[] asked =
          java.util.Arrays.stream(items)
              .filter(i -> !(i instanceof CredentialItem.InformationalMessage))
              .toArray(CredentialItem[]::new);
      return supports(asked) && super.get(uri, asked);
    }
  }

  /**
   * RFC 3986 percent-decoding of user info: {@code %XX} are UTF-8 bytes, everything else is itself
   * ({@code +} is a plus, not a space as in form encoding).
   */
  static String percentDecode(String raw) {
    java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream(raw.length());
    for (int i = 0; i < raw.length(); i++) {
      char c = raw.charAt(i);
      if (c == '%'
          && i + 2 < raw.length()
          && Character.digit(raw.charAt(i + 1), 16) >= 0
          && Character.digit(raw.charAt(i + 2), 16) >= 0) {
        bytes.write(Integer.parseInt(raw, i + 1, i + 3, 16));
        i += 2;
      } else {
        byte[] utf8 = String.valueOf(c).getBytes(java.nio.charset.StandardCharsets.UTF_8);
        bytes.write(utf8, 0, utf8.length);
      }
    }
    return bytes.toString(java.nio.charset.StandardCharsets.UTF_8);
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
    Slot slot = slot(repo);
    ReentrantReadWriteLock rw =
        readers.computeIfAbsent(slot.key(), k -> new ReentrantReadWriteLock());
    rw.writeLock().lock();
    // Lock: the tree's lock, as in materialise: no thread or process clones into it meanwhile.
    try (TreeLock held = TreeLock.acquire(slot.lock())) {
      boolean hadMarker = Files.deleteIfExists(slot.marker());
      Path tree = slot.tree();
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

  /** Releases the ssh client; the trees stay. */
  @Override
  public void close() {
    policy.close();
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
          // A hostile repository may hold a link to a file outside the root: File.setWritable
          // would follow it and change that file, so links are deleted as they are.
          if (!Files.isSymbolicLink(p)) {
            p.toFile().setWritable(true);
          }
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
    private Set<String> schemes = DEFAULT_SCHEMES;
    private AddressFilter addressFilter = AddressFilter.NOT_LINK_LOCAL;
    private Path sshDirectory;

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

    /**
     * The URL schemes that may be cloned, from {@code https}, {@code ssh} (scp-like URLs count as
     * ssh), {@code http}, {@code git} and {@code file}; default {@link #DEFAULT_SCHEMES}. {@code
     * file} reads this host's disk and belongs in tests; {@code http} and {@code git} are
     * cleartext.
     */
    public Builder allowedSchemes(Set<String> schemes) {
      if (schemes == null || schemes.isEmpty()) {
        throw new ConfigurationException("allowedSchemes", "must name at least one scheme");
      }
      Set<String> lower = new java.util.TreeSet<>();
      for (String scheme : schemes) {
        String s = scheme == null ? "" : scheme.toLowerCase(Locale.ROOT);
        if (!UrlPolicy.KNOWN_SCHEMES.contains(s)) {
          throw new ConfigurationException(
              "allowedSchemes", "'" + scheme + "' is not one of https, ssh, http, git, file");
        }
        lower.add(s);
      }
      this.schemes = Set.copyOf(lower);
      return this;
    }

    /**
     * Which addresses a clone may connect to; default {@link AddressFilter#NOT_LINK_LOCAL}. Hosts
     * that clone URLs their tenants choose pass {@link AddressFilter#publicOnly()} or their own.
     */
    public Builder addressFilter(AddressFilter filter) {
      if (filter == null) {
        throw new ConfigurationException("addressFilter", "is required");
      }
      this.addressFilter = filter;
      return this;
    }

    /**
     * The directory with the ssh keys ({@code id_ed25519}, {@code id_ecdsa}, {@code id_rsa}),
     * {@code known_hosts} and {@code config} for ssh URLs; default {@code ~/.ssh} of the process's
     * user. Host keys not in {@code known_hosts} are refused.
     */
    public Builder sshDirectory(Path directory) {
      this.sshDirectory = directory;
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
