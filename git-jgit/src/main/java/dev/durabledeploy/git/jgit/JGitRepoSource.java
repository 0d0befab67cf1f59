package dev.durabledeploy.git.jgit;

import dev.durabledeploy.spi.events.EventBus;
import dev.durabledeploy.spi.exception.ConfigurationException;
import dev.durabledeploy.spi.exception.RepoCloneException;
import dev.durabledeploy.spi.exception.RepoCloneException.Reason;
import dev.durabledeploy.spi.git.RepoId;
import dev.durabledeploy.spi.git.RepoRef;
import dev.durabledeploy.spi.git.RepoSource;
import dev.durabledeploy.spi.support.Config;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.PasswordAuthentication;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Clock;
import java.time.Duration;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Function;
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
 * refused URL is an {@link dev.durabledeploy.spi.exception.InvalidInputException} on field {@code
 * url}.
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

  private final CacheLayout layout;
  private final Clock clock;
  private final UrlPolicy policy;
  private final CloneFailures failures;
  private final Cloner cloner;
  // Keyed by RepoRef.cacheKey(): one entry per tree.
  private final ConcurrentHashMap<String, CompletableFuture<Path>> inFlight =
      new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, ReentrantReadWriteLock> readers =
      new ConcurrentHashMap<>();
  volatile ProgressHook progressHook = (repo, task) -> {};

  /** Test seam: called at every progress step of a clone; may throw to simulate a crash. */
  @FunctionalInterface
  interface ProgressHook {
    void onTask(RepoId repo, String task);
  }

  private JGitRepoSource(Builder b) {
    this.layout = new CacheLayout(b.root);
    this.clock = b.clock;
    this.policy = new UrlPolicy(b.schemes, b.addressFilter, layout.root, b.sshDirectory);
    this.failures = new CloneFailures(layout.root, b.cloneTimeout);
    this.cloner =
        new Cloner(
            layout,
            policy,
            new CloneCredentials(b.credentials),
            failures,
            b.depth,
            b.cloneTimeout,
            b.events,
            b.clock,
            () -> progressHook);
    layout.sweep(b.sweepOlderThan, b.clock);
  }

  public static Builder builder(Path root) {
    return new Builder(root);
  }

  /** Clones this instance has run: warm hits and shared clones do not count. */
  public int cloneCount() {
    return cloner.count();
  }

  // ---- the chokepoint ------------------------------------------------------------------------

  @Override
  public Path ensureClone(RepoRef repo) {
    policy.checkScheme(repo);
    CacheLayout.Slot slot = layout.slot(repo);
    if (CacheLayout.isComplete(slot)) {
      return slot.tree();
    }
    policy.check(repo);
    return shared(repo, slot, false);
  }

  @Override
  public Path refresh(RepoRef repo) {
    policy.check(repo);
    CacheLayout.Slot slot = layout.slot(repo);
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
    policy.checkScheme(repo);
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
  private Path shared(RepoRef repo, CacheLayout.Slot slot, boolean refresh) {
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
  private Path materialise(RepoRef repo, CacheLayout.Slot slot, boolean refresh) {
    Path tree = slot.tree();
    Path marker = slot.marker();
    // Lock: the tree's lock (one per cache key; in-process, then the file lock), so threads,
    // instances and processes sharing this volume clone it once between them and never replace a
    // tree another is writing.
    try (TreeLock held = TreeLock.acquire(slot.lock())) {
      if (!refresh && CacheLayout.isComplete(slot)) {
        return tree;
      }
      Path fresh = cloner.cloneToTemp(repo, slot);
      Files.createDirectories(marker.getParent());
      Files.deleteIfExists(marker);
      Path previous = null;
      if (Files.exists(tree)) {
        previous = layout.temp("old-");
        Files.move(tree, previous, StandardCopyOption.ATOMIC_MOVE);
      }
      Files.createDirectories(tree.getParent());
      Files.move(fresh, tree, StandardCopyOption.ATOMIC_MOVE);
      Files.writeString(marker, clock.instant().toString());
      if (previous != null) {
        CacheLayout.deleteTree(previous);
      }
      return tree;
    } catch (java.io.InterruptedIOException e) {
      throw failures.failure(
          repo, Reason.CANCELLED, "interrupted while waiting for the tree's lock", e);
    } catch (IOException e) {
      throw failures.failure(
          repo,
          e.getMessage() != null && e.getMessage().contains("No space left")
              ? Reason.DISK_FULL
              : Reason.OTHER,
          "preparing the working tree failed: " + e.getMessage(),
          e);
    }
  }

  // ---- eviction and housekeeping -------------------------------------------------------------

  @Override
  public boolean evict(RepoRef repo) {
    CacheLayout.Slot slot = layout.slot(repo);
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
      Path doomed = layout.temp("evicted-");
      Files.move(tree, doomed, StandardCopyOption.ATOMIC_MOVE);
      CacheLayout.deleteTree(doomed);
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
      this.cloneTimeout = Config.requirePositive("cloneTimeout", timeout);
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
      this.addressFilter = Config.require("addressFilter", filter);
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
      Config.require("root", root);
      if (sweepOlderThan == null) {
        sweepOlderThan = cloneTimeout.multipliedBy(2);
      }
      return new JGitRepoSource(this);
    }
  }
}
