package dev.durabledeploy.core.deploy;

import dev.durabledeploy.core.DeployOptions;
import dev.durabledeploy.core.events.Operations;
import dev.durabledeploy.core.events.Operations.Operation;
import dev.durabledeploy.core.metadata.MetadataCommands;
import dev.durabledeploy.core.purge.SitePurge;
import dev.durabledeploy.core.retry.Retrier;
import dev.durabledeploy.spi.Actor;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.Store;
import dev.durabledeploy.spi.UploadPath;
import dev.durabledeploy.spi.blob.BlobContent;
import dev.durabledeploy.spi.blob.BlobExistsException;
import dev.durabledeploy.spi.blob.BlobInfo;
import dev.durabledeploy.spi.blob.BlobKey;
import dev.durabledeploy.spi.blob.BlobMetadata;
import dev.durabledeploy.spi.blob.BlobPrefix;
import dev.durabledeploy.spi.blob.BlobStore;
import dev.durabledeploy.spi.exception.AliasDriftException;
import dev.durabledeploy.spi.exception.DeployNotFoundException;
import dev.durabledeploy.spi.exception.DeployStateException;
import dev.durabledeploy.spi.exception.DurableDeployException;
import dev.durabledeploy.spi.exception.InvalidInputException;
import dev.durabledeploy.spi.exception.SiteLockLostException;
import dev.durabledeploy.spi.exception.TombstoneExpiredException;
import dev.durabledeploy.spi.lock.SiteLock;
import dev.durabledeploy.spi.metadata.Alias;
import dev.durabledeploy.spi.metadata.AliasExpectation;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.spi.metadata.DeployState;
import dev.durabledeploy.spi.metadata.MetadataStore;
import dev.durabledeploy.spi.metadata.SiteDeletion;
import dev.durabledeploy.spi.metadata.Tombstone;
import dev.durabledeploy.spi.support.Threads;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Supplier;
import java.util.random.RandomGenerator;

/**
 * The deploy lifecycle: init, upload, finalize, promote, rollback, delete, restore, purge.
 *
 * <p>Every mutation but {@link #upload} runs under its site's lock (E1), is recorded in the audit
 * log by the store's command, and is announced as an operation on the lifecycle bus. Each step is
 * idempotent and ordered so that a crash at any point leaves a state the same call, re-run,
 * completes (V9): finalize writes the marker before the one metadata command; delete writes the
 * tombstone before moving bytes to trash (V6), and purgeSite its intent and the row deletion before
 * deleting bytes; restore moves bytes back before removing the tombstone.
 *
 * <p><b>A finalized deploy's bytes never change.</b> Uploads of new files take no lock, so the
 * files of one deploy upload in parallel; three things keep them from changing what finalize
 * verified:
 *
 * <ol>
 *   <li>An upload of a path this host has not seen in the deploy is a create-only write ({@link
 *       BlobStore#create}): it can never replace an object, so no upload can overwrite bytes
 *       finalize has seen. Losing to a concurrent creator is {@link UploadConflictException}: send
 *       again.
 *   <li>Finalize seals the deploy first ({@code PENDING -> FINALIZING}, one metadata command), and
 *       only then lists and verifies it. After its write an upload reads the deploy's state afresh:
 *       still PENDING means no finalize has sealed it since the write (or one did and failed,
 *       unsealing it), so a finalize that seals it later lists the file. Anything else (FINALIZING,
 *       ACTIVE, deleted, purged) and the upload settles once whatever ended the pending life has
 *       finished: it waits for a finalize by reading the deploy again with backoff (up to {@link
 *       #SETTLE_TIMEOUT}, not bounded by the lock timeout), decides an ACTIVE deploy by its marker,
 *       which never changes, and a deploy that is gone under the site lock. Its file stays only if
 *       the deploy is pending again or the marker lists it (finalize verified it); otherwise it
 *       deletes the object it created — nobody else's bytes — and fails with {@link
 *       DeployStateException} or {@link DeployNotFoundException}. A create that fails in any way
 *       but a refusal ({@link BlobExistsException}, {@link InvalidInputException}) may have stored
 *       the object, so it settles too before it reports. A deploy still FINALIZING at the deadline
 *       (a finalize that crashed) keeps the file for the resumed finalize to verify, and the upload
 *       fails with {@link UploadUnsettledException}. Until settled the file is visible under the
 *       prefix, outside what finalize verified; an upload that dies before settling leaves it to
 *       the reconciler ({@code BYTES_WITHOUT_ROW}, {@code TOMBSTONE_WITH_LIVE_BYTES}, {@code
 *       FILE_ADDED_AFTER_FINALIZE}).
 *   <li>Re-uploading a path that exists (which replaces it) is rare and must not race finalize's
 *       verification, so it runs under the site lock with the state re-checked there. The body is
 *       read to the end first (in memory, or in a temporary file above 1 MiB), so a slow client
 *       never holds the lock. Whether a path exists comes from the files-per-deploy counter, seeded
 *       from one listing per deploy per host and updated by this host's uploads; a path another
 *       host created meanwhile is found by the create-only write, which refuses.
 * </ol>
 *
 * <p><b>The one exception: a replacement that outlives its site lock.</b> The site lock is a lease
 * and the blob stores take no fencing token, so a replacement whose write is in flight when this
 * host loses the lock (cut off from the store, or paused, for longer than the lock's time to live,
 * in the middle of the write) can land after another host took the lock and finalized the deploy.
 * The window is narrowed: the write is not started when the lock's remaining validity is short (its
 * renewals are failing), and after the write the lock and the deploy's state are checked again, so
 * such an upload never reports success: it fails with {@link SiteLockLostException} saying the
 * bytes may have changed, and the reconciler reports the deploy as {@code CONTENT_CHANGED} against
 * the marker. New files are not exposed to this: their create-only write cannot replace verified
 * bytes.
 *
 * <p>One interleaving is not detected, because it leaves no finalized deploy changed: a path this
 * host did not know existed, uploaded while the deploy is deleted and restored, where the restore
 * puts the deploy's own older copy of the path back over the upload's; the upload reports success
 * and the pending deploy holds the older copy.
 *
 * <p>A blob store without create-only writes (a third-party one written against an older SPI) gets
 * the third way for every upload: correct, but one upload per site at a time. Instances are
 * immutable and thread-safe; {@link #as} gives a view that records another actor.
 */
public final class DeployService {

  private final Store store;
  private final MetadataStore metadata;
  private final MetadataCommands commands;
  private final BlobStore blobs;
  private final Operations operations;
  private final Retrier retrier;
  private final DeployOptions options;
  private final RandomGenerator random;
  private final Actor actor;
  private final UploadCounter uploads;
  private final SitePurge sitePurge;

  public DeployService(
      Store store,
      BlobStore blobs,
      Operations operations,
      Retrier retrier,
      DeployOptions options,
      RandomGenerator random) {
    this(
        store,
        blobs,
        operations,
        retrier,
        options,
        random,
        Actor.SYSTEM,
        new UploadCounter(options.maxFilesPerDeploy()));
  }

  private DeployService(
      Store store,
      BlobStore blobs,
      Operations operations,
      Retrier retrier,
      DeployOptions options,
      RandomGenerator random,
      Actor actor,
      UploadCounter uploads) {
    this.store = store;
    this.metadata = store.metadata();
    this.commands = new MetadataCommands(metadata);
    this.blobs = blobs;
    this.operations = operations;
    this.retrier = retrier;
    this.options = options;
    this.random = random;
    this.actor = actor;
    this.uploads = uploads;
    this.sitePurge = new SitePurge(metadata, blobs, retrier, operations.clock());
  }

  /** The same service, recording {@code actor} in the audit log for every mutation. */
  public DeployService as(Actor actor) {
    return new DeployService(
        store, blobs, operations, retrier, options, random, Objects.requireNonNull(actor), uploads);
  }

  // ---- lifecycle -----------------------------------------------------------------------------

  /**
   * Starts a deploy: a PENDING row with a library-generated id ({@code yyyyMMdd-HHmmss-<sha7>}, or
   * a random suffix without a sha or when that id is taken).
   *
   * @param sha the commit sha (7 to 64 hex digits), or {@code null}
   */
  public Deploy init(SiteId site, String sha) {
    Objects.requireNonNull(site, "site");
    if (sha != null) {
      DeployId.requireSha(sha);
    }
    return mutate(
        "init",
        site,
        op -> {
          // A purge of this site that crashed half way is finished first, or it would later remove
          // the deploy started here.
          sitePurge.finishPending(op, site, actor);
          java.time.Instant now = operations.clock().instant();
          DeployId id = sha == null ? DeployId.random(now, random) : DeployId.forSha(now, sha);
          // Under the site lock, so two inits of one sha in the same second get distinct ids.
          while (taken(op, site, id)) {
            id = DeployId.random(now, random);
          }
          DeployId chosen = id;
          return retrier.call(op, () -> commands.createPending(site, chosen, sha, actor));
        });
  }

  private boolean taken(Operation op, SiteId site, DeployId id) {
    return retrier.call(
        op,
        () ->
            metadata.findDeploy(site, id).isPresent()
                || metadata.findTombstone(site, id).isPresent());
  }

  /**
   * Stores one file of a pending deploy under {@code <site>/deploys/<deployId>/<path>}, with a
   * content type guessed from the extension. Re-uploading a path replaces it. An upload that
   * overlaps the deploy's finalize is either part of what finalize verified or fails with {@link
   * DeployStateException}, leaving the verified bytes as they were (see the class description).
   *
   * @throws InvalidInputException field {@code size} over the configured maximum, {@code path} for
   *     the reserved marker name, {@code files} past the maximum files per deploy
   * @throws DeployStateException when the deploy is finalized or being finalized (also when that
   *     happened while this upload was writing)
   * @throws DeployNotFoundException when the deploy does not exist, or was deleted or purged (also
   *     while this upload was writing)
   * @throws UploadConflictException when another upload created the same path at the same time
   * @throws UploadUnsettledException when the deploy was still being finalized {@link
   *     #SETTLE_TIMEOUT} after this upload wrote its file into it: the file was left for that
   *     finalize
   * @throws SiteLockLostException when a replacement lost the site lock; if the message says so,
   *     the write may have landed after another host finalized the deploy
   */
  public BlobInfo upload(
      SiteId site, DeployId deployId, UploadPath path, InputStream data, long size) {
    return upload(site, deployId, path, data, size, BlobMetadata.ofType(ContentTypes.of(path)));
  }

  /** {@link #upload} with explicit content type and cache control. */
  public BlobInfo upload(
      SiteId site,
      DeployId deployId,
      UploadPath path,
      InputStream data,
      long size,
      BlobMetadata metadata) {
    Objects.requireNonNull(site, "site");
    Objects.requireNonNull(deployId, "deployId");
    Objects.requireNonNull(path, "path");
    Objects.requireNonNull(data, "data");
    if (size < 0 || size > options.maxFileSize()) {
      throw new InvalidInputException(
          "size", "is " + size + " bytes; files may be 0 to " + options.maxFileSize() + " bytes");
    }
    if (path.value().equals(BlobLayout.MARKER_NAME)) {
      throw new InvalidInputException("path", "'" + BlobLayout.MARKER_NAME + "' is reserved");
    }
    return operations.run(
        "upload",
        site,
        op -> {
          // An early refusal only spares sending bytes into a deploy that cannot take them; what
          // decides is the re-check after the write.
          requireUploadable(requireDeploy(op, site, deployId));
          BlobKey key = BlobLayout.deploy(site, deployId).resolve(path.value());
          boolean known =
              uploads.admit(site, deployId, key, () -> countUploaded(op, site, deployId));
          if (known || !lockFreeUploads()) {
            return replace(op, site, deployId, key, data, size, metadata);
          }
          return create(op, site, deployId, path, key, data, size, metadata);
        });
  }

  /** Whether new files can be written without the site lock (see the class description). */
  private boolean lockFreeUploads() {
    return blobs.supportsCreate();
  }

  private static void requireUploadable(Deploy deploy) {
    switch (deploy.state()) {
      case PENDING -> {}
      case ACTIVE ->
          throw new DeployStateException(
              deploy.site(),
              deploy.id(),
              DeployState.ACTIVE,
              "it is finalized; uploads go to a new deploy");
      case FINALIZING ->
          throw new DeployStateException(
              deploy.site(),
              deploy.id(),
              DeployState.FINALIZING,
              "a finalize is verifying it, or one did not finish; uploads are refused until it"
                  + " ends (call finalizeDeploy again to finish it, or to learn what is missing)");
    }
  }

  /** A new path: a create-only write, then a fresh read of the deploy's state. */
  private BlobInfo create(
      Operation op,
      SiteId site,
      DeployId deployId,
      UploadPath path,
      BlobKey key,
      InputStream data,
      long size,
      BlobMetadata metadata) {
    BlobInfo created;
    try {
      // The stream can be read once only, so the write itself is not retried.
      created = blobs.create(key, data, size, metadata);
    } catch (BlobExistsException lost) {
      // Lost to another writer of the path; if the deploy is no longer pending meanwhile, that is
      // the answer that matters (sending again would be refused too).
      requireUploadable(requireDeploy(op, site, deployId));
      throw new UploadConflictException(site, deployId, path);
    } catch (InvalidInputException refused) {
      // Refused before anything was stored (a stream of the wrong size): the path is still free.
      uploads.withdraw(site, deployId, key);
      throw refused;
    } catch (RuntimeException maybeStored) {
      // Any other failure may have come after the object was stored (its answer lost on the way
      // back), so it is settled like a stored file before it is reported. The path stays counted
      // as existing meanwhile: a re-sent upload replaces whatever is there.
      throw afterFailedCreate(op, site, deployId, path, key, maybeStored);
    }
    Optional<Deploy> now = retrier.call(op, () -> this.metadata.findDeploy(site, deployId));
    if (now.isPresent() && now.get().isPending()) {
      // Read after the write: a seal, delete or purge committed later, and sees the file.
      return created;
    }
    Settled settled = settle(op, site, deployId, path, key);
    return switch (settled.verdict()) {
      case KEPT -> created;
      case WITHDRAWN -> throw withdrawn(site, deployId, settled.deploy());
      case UNDECIDED -> throw unsettled(site, deployId, path, settled.deploy());
    };
  }

  /**
   * The answer to an upload whose create failed in a way that may have stored the object: the
   * create's own failure, unless settling found the deploy was no longer pending and withdrew the
   * file (or could not decide).
   */
  private RuntimeException afterFailedCreate(
      Operation op,
      SiteId site,
      DeployId deployId,
      UploadPath path,
      BlobKey key,
      RuntimeException failure) {
    Settled settled;
    try {
      Optional<Deploy> now = retrier.call(op, () -> this.metadata.findDeploy(site, deployId));
      if (now.isPresent() && now.get().isPending()) {
        return failure;
      }
      settled = settle(op, site, deployId, path, key);
    } catch (RuntimeException settling) {
      failure.addSuppressed(settling);
      return failure;
    }
    RuntimeException answer =
        switch (settled.verdict()) {
          case KEPT -> failure;
          case WITHDRAWN -> withdrawn(site, deployId, settled.deploy());
          case UNDECIDED -> unsettled(site, deployId, path, settled.deploy());
        };
    if (answer != failure) {
      answer.addSuppressed(failure);
    }
    return answer;
  }

  /**
   * How long an upload that wrote while its deploy stopped being pending waits for the deploy's
   * fate to be decided (see {@link #settle}): generous, because a finalize of a large deploy
   * verifies for minutes on a slow store (20,000 SHA-256 checks against S3 take one to three).
   */
  public static final Duration SETTLE_TIMEOUT = Duration.ofMinutes(10);

  private static final Duration SETTLE_FIRST_PAUSE = Duration.ofMillis(10);
  private static final Duration SETTLE_MAX_PAUSE = Duration.ofSeconds(1);

  /** What {@link #settle} decided about a file an upload created. */
  private enum Verdict {
    /** The file belongs to the deploy: it is pending again, or finalize verified the file. */
    KEPT,
    /** The file was deleted: the deploy was finalized without it, deleted or purged. */
    WITHDRAWN,
    /** Still being finalized at the deadline: the file was left for that finalize to verify. */
    UNDECIDED
  }

  /** A verdict, with the deploy as last read (empty when it was gone). */
  private record Settled(Verdict verdict, Optional<Deploy> deploy) {}

  /**
   * The deploy stopped being pending while the upload wrote (or may have written) {@code key}:
   * decides, once whatever ended it has finished, whether the file belongs to it, and deletes it if
   * not. The file was created by this upload (create-only), so deleting it loses nobody else's
   * bytes; and if the create failed without storing it, a file there is another upload's, deleted
   * only by the same rules (never one that the marker lists).
   *
   * <ul>
   *   <li>PENDING (a finalize failed and unsealed it, a restore): kept; a later finalize lists it.
   *   <li>FINALIZING: a finalize is verifying it, however long that takes. Waited for by reading
   *       the deploy again with backoff (no lock is held while waiting, so the wait does not depend
   *       on {@code lockTimeout}), up to {@link #SETTLE_TIMEOUT}; still FINALIZING then (that
   *       finalize may have crashed), the file is left: a resumed finalize verifies it.
   *   <li>ACTIVE: decided without the lock, because an active deploy's marker never changes: kept
   *       if the marker lists the path, else deleted — no verified copy of an unlisted path exists
   *       anywhere, so whatever is under the key is unverified.
   *   <li>Gone (deleted, trashed by GC, purged): decided under the site lock, after that saga
   *       ended, since a restore could bring the deploy back meanwhile: deleted unless the deploy
   *       is live again, then decided as above; a copy the delete moved to the trash of a finalized
   *       deploy goes too unless its marker lists the path, so a restore cannot bring back an
   *       unverified file. An ACTIVE deploy found gone right after its file was deleted (no lock is
   *       held for an ACTIVE deploy) is decided this way as well.
   * </ul>
   */
  private Settled settle(
      Operation op, SiteId site, DeployId deployId, UploadPath path, BlobKey key) {
    long deadlineNanos = System.nanoTime() + SETTLE_TIMEOUT.toNanos();
    java.time.Instant deadline = operations.clock().instant().plus(SETTLE_TIMEOUT);
    Duration pause = SETTLE_FIRST_PAUSE;
    while (true) {
      Optional<Deploy> deploy = retrier.call(op, () -> metadata.findDeploy(site, deployId));
      Optional<Settled> decided =
          deploy.isPresent()
              ? decideLive(op, site, deployId, path, key, deploy.get())
              : decideGone(op, site, deployId, path, key);
      if (decided.isPresent()) {
        return decided.get();
      }
      // Both clocks: the injected one (a test's), and real time, so a frozen clock cannot hang it.
      if (System.nanoTime() - deadlineNanos >= 0
          || !operations.clock().instant().isBefore(deadline)
          || !retrier.pause(pause)) {
        return new Settled(Verdict.UNDECIDED, deploy);
      }
      Duration doubled = pause.multipliedBy(2);
      pause = doubled.compareTo(SETTLE_MAX_PAUSE) > 0 ? SETTLE_MAX_PAUSE : doubled;
    }
  }

  /** A verdict for a live deploy, or empty while it is being finalized. */
  private Optional<Settled> decideLive(
      Operation op, SiteId site, DeployId deployId, UploadPath path, BlobKey key, Deploy deploy) {
    switch (deploy.state()) {
      case PENDING -> {
        return Optional.of(new Settled(Verdict.KEPT, Optional.of(deploy)));
      }
      case FINALIZING -> {
        return Optional.empty();
      }
      default -> {
        Optional<BlobContent> content =
            retrier.call(op, () -> blobs.get(BlobLayout.marker(site, deployId)));
        if (content.isEmpty()) {
          // Moved to trash by a delete since the read: the next read finds the deploy gone.
          return Optional.empty();
        }
        Marker marker;
        try (BlobContent c = content.get()) {
          marker = Marker.parse(c.readAllBytes());
        } catch (IllegalArgumentException unreadable) {
          // Nothing says whether finalize verified the file: leave it, the reconciler reports it.
          return Optional.of(new Settled(Verdict.UNDECIDED, Optional.of(deploy)));
        }
        if (marker.verified().containsKey(path.value())) {
          return Optional.of(new Settled(Verdict.KEPT, Optional.of(deploy)));
        }
        withdraw(op, site, deployId, key);
        // No lock is held here, so a delete or GC may have moved the deploy to trash since its
        // state was read, this file with it (they write their record first, so a deploy still
        // live now moved nothing yet). Then the file goes from trash as well, under the lock.
        if (retrier.call(op, () -> metadata.findDeploy(site, deployId)).isEmpty()) {
          return decideGone(op, site, deployId, path, key);
        }
        return Optional.of(new Settled(Verdict.WITHDRAWN, Optional.of(deploy)));
      }
    }
  }

  /** A verdict for a deploy that is not live, or empty while its site is busy. */
  private Optional<Settled> decideGone(
      Operation op, SiteId site, DeployId deployId, UploadPath path, BlobKey key) {
    SiteLock lock;
    try {
      lock = op.lockSite(store.siteLocks(), site, options.lockTimeout());
    } catch (dev.durabledeploy.spi.exception.SiteBusyException busy) {
      return Optional.empty();
    }
    // Lock: the site's lock, taken after the delete, GC or purge that removed the deploy (they
    // hold it from their first step to their last) let go, so no restore runs while this decides.
    // It protects "a finalized deploy's bytes never change": a restored deploy's files are its own.
    try (lock) {
      Optional<Deploy> deploy = retrier.call(op, () -> metadata.findDeploy(site, deployId));
      if (deploy.isPresent()) {
        return decideLive(op, site, deployId, path, key, deploy.get());
      }
      withdraw(op, site, deployId, key);
      withdrawFromTrash(op, site, deployId, path);
      return Optional.of(new Settled(Verdict.WITHDRAWN, Optional.empty()));
    }
  }

  /**
   * A delete or GC that ran after the write moved the file to trash with the deploy's others, and a
   * restore would bring it back. In a finalized deploy (its marker is in trash with it) that would
   * be a file outside what finalize verified, so it goes from trash too, unless the marker lists
   * the path: then the file there is the verified one, not this upload's (a create-only write never
   * replaces a file). A pending deploy's file stays with it: a restored pending deploy is verified
   * by its finalize like any other.
   */
  private void withdrawFromTrash(Operation op, SiteId site, DeployId deployId, UploadPath path) {
    BlobPrefix trash = BlobLayout.trash(site, deployId);
    Optional<BlobContent> content =
        retrier.call(op, () -> blobs.get(trash.resolve(BlobLayout.MARKER_NAME)));
    if (content.isEmpty()) {
      return;
    }
    try (BlobContent c = content.get()) {
      if (Marker.parse(c.readAllBytes()).verified().containsKey(path.value())) {
        return;
      }
    } catch (IllegalArgumentException unreadable) {
      // Nothing says whether finalize verified it: leave it, the reconciler reports it.
      return;
    }
    retrier.run(op, () -> blobs.delete(trash.resolve(path.value())));
  }

  private void withdraw(Operation op, SiteId site, DeployId deployId, BlobKey key) {
    retrier.run(op, () -> blobs.delete(key));
    uploads.withdraw(site, deployId, key);
  }

  private static DurableDeployException withdrawn(
      SiteId site, DeployId deployId, Optional<Deploy> deploy) {
    if (deploy.isEmpty()) {
      return new DeployNotFoundException(site, deployId);
    }
    return new DeployStateException(
        site,
        deployId,
        deploy.get().state(),
        deploy.get().isActive()
            ? "it was finalized while this upload was writing, without this file; the file was"
                + " withdrawn (upload it to a new deploy)"
            : "a finalize of it began while this upload was writing; the file was withdrawn"
                + " (call finalizeDeploy to finish that finalize, or upload again if it fails)");
  }

  private static UploadUnsettledException unsettled(
      SiteId site, DeployId deployId, UploadPath path, Optional<Deploy> deploy) {
    return new UploadUnsettledException(
        site, deployId, path, deploy.map(Deploy::state).orElse(null), SETTLE_TIMEOUT);
  }

  /**
   * A path that exists (or a store without create-only writes): the body is read to the end first,
   * then written under the site lock with the state re-checked there, and checked again after the
   * write.
   *
   * <p>The lock is a lease: a write in flight when it expires (this host cut off from the store, or
   * paused, for longer than the lock's time to live) cannot be stopped, and the blob stores have no
   * fencing token to refuse it. So the write is not started when the lock's remaining validity is
   * short (its renewals are failing), and after the write the lock and the state are checked again:
   * if the lock was lost, another host may have finalized the deploy before this write landed, and
   * the upload fails with {@link dev.durabledeploy.spi.exception.SiteLockLostException} saying so;
   * the reconciler then reports the deploy as {@code CONTENT_CHANGED}.
   */
  private BlobInfo replace(
      Operation op,
      SiteId site,
      DeployId deployId,
      BlobKey key,
      InputStream data,
      long size,
      BlobMetadata metadata) {
    try (UploadSpool body = UploadSpool.read(data, size)) {
      // Lock: the site's lock, so this replacement cannot land between finalize's verification
      // and its activation (finalize holds the lock from its seal to its last step): a deploy
      // that is pending under the lock stays pending until the write is done.
      try (SiteLock lock = op.lockSite(store.siteLocks(), site, options.lockTimeout())) {
        Optional<Duration> validAtStart = lock.validFor();
        requireUploadable(requireDeploy(op, site, deployId));
        requireTimeToWrite(site, lock, validAtStart);
        BlobInfo written;
        try {
          written =
              retrier.call(
                  op,
                  () -> {
                    try (InputStream in = body.open()) {
                      return blobs.put(key, in, size, metadata);
                    } catch (java.io.IOException e) {
                      throw new java.io.UncheckedIOException(e);
                    }
                  });
        } catch (SiteLockLostException lost) {
          // Lost before the first attempt: nothing was written. Lost after a failed attempt: that
          // attempt may still have stored the bytes.
          throw lost.getSuppressed().length == 0 ? lost : replacedWithoutLock(site, deployId, key);
        }
        if (!lock.isHeld()) {
          throw replacedWithoutLock(site, deployId, key);
        }
        Deploy after;
        try {
          after = requireDeploy(op, site, deployId);
        } catch (SiteLockLostException lost) {
          throw replacedWithoutLock(site, deployId, key);
        }
        if (!after.isPending()) {
          throw new DeployStateException(
              site,
              deployId,
              after.state(),
              "it stopped being pending while '"
                  + key.relativeTo(BlobLayout.deploy(site, deployId))
                  + "' was being replaced under the site lock; its bytes may have changed since it"
                  + " was verified, which the reconciler reports as CONTENT_CHANGED");
        }
        return written;
      }
    }
  }

  /**
   * Refuses to start a replacement when the lock's validity has run down to under a third of what
   * it was when taken: renewals happen every third of the time to live, so that much is lost only
   * when a renewal failed, and a write started now would likely outlive the lock.
   */
  private static void requireTimeToWrite(SiteId site, SiteLock lock, Optional<Duration> atStart) {
    Optional<Duration> left = lock.validFor();
    if (atStart.isPresent()
        && left.isPresent()
        && left.get().compareTo(atStart.get().dividedBy(3)) < 0) {
      throw new SiteLockLostException(
          site,
          "upload",
          "it is about to be: it stays valid for only "
              + left.get().toMillis()
              + " ms more, so the replacement was not started and nothing was written. Send it"
              + " again; if this recurs, check the store's reachability and this process's"
              + " pauses");
    }
  }

  private static SiteLockLostException replacedWithoutLock(
      SiteId site, DeployId deployId, BlobKey key) {
    return new SiteLockLostException(
        site,
        "upload",
        "the replacement of '"
            + key.relativeTo(BlobLayout.deploy(site, deployId))
            + "' in deploy '"
            + deployId
            + "' was written when the lock may already have been lost, so another host may have"
            + " finalized the deploy before the write landed: its bytes may have changed since"
            + " finalize verified them, which the reconciler reports as CONTENT_CHANGED. Check the"
            + " deploy's state; if it is finalized, upload to a new deploy");
  }

  private Set<String> countUploaded(Operation op, SiteId site, DeployId deployId) {
    Set<String> paths = new HashSet<>();
    BlobKey marker = BlobLayout.marker(site, deployId);
    List<BlobInfo> listed =
        retrier.call(op, () -> blobs.listAll(BlobLayout.deploy(site, deployId)));
    for (BlobInfo info : listed) {
      // A marker in a pending deploy is a leftover (a finalize that stopped), not a file.
      if (!info.key().equals(marker)) {
        paths.add(info.key().value());
      }
    }
    return paths;
  }

  /**
   * {@link #finalizeDeploy(SiteId, DeployId, AliasName, Manifest, AliasExpectation)} with no CAS.
   */
  public Finalized finalizeDeploy(
      SiteId site, DeployId deployId, AliasName alias, Manifest manifest) {
    return finalizeDeploy(site, deployId, alias, manifest, AliasExpectation.ANY);
  }

  /**
   * Finalizes a pending deploy and points {@code alias} at it. Gates, in order: the deploy exists
   * and is pending (or FINALIZING: a finalize that crashed, which this one resumes); the manifest
   * is not empty, contains {@code index.html} and is within the files limit. Then the deploy is
   * sealed (FINALIZING: uploads are refused from here on, see the class description) and verified:
   * the deploy holds at most the maximum files per deploy, counting every file its listing finds,
   * whichever host uploaded it ({@link InvalidInputException}, field {@code files}); every manifest
   * file is in the blob store ({@link ManifestIncompleteException} lists the missing), and for a
   * manifest of {@link Manifest.Entry entries} each size and SHA-256 matches the stored bytes
   * ({@link ManifestMismatchException}); a failed verification unseals the deploy, so the client
   * can upload what is missing and finalize again. Then the marker is written, recording every file
   * with its size, etag and SHA-256 where known, then one metadata command makes the deploy ACTIVE,
   * moves the alias by CAS, releases the previous target and appends {@code alias.changed} and
   * {@code site.changed} atomically. {@link AliasDriftException} there deletes the marker again and
   * then unseals the deploy, so a pending deploy holds no marker. Re-running a finalize that
   * succeeded returns the same result (V9).
   *
   * <p>Cost: one listing of the prefix (which gives sizes and etags); SHA-256 checks read what the
   * listing lacks, at most {@value #DIGEST_CHECKS_IN_PARALLEL} objects at a time: a stat where the
   * store records the digest, the bytes where it does not (S3 objects above its multipart
   * threshold).
   */
  public Finalized finalizeDeploy(
      SiteId site, DeployId deployId, AliasName alias, Manifest manifest, AliasExpectation expect) {
    Objects.requireNonNull(alias, "alias");
    Objects.requireNonNull(manifest, "manifest");
    Objects.requireNonNull(expect, "expect");
    return mutate(
        "finalize",
        site,
        op -> {
          Deploy deploy = requireDeploy(op, site, deployId);
          if (deploy.isActive()) {
            Optional<Alias> current = retrier.call(op, () -> metadata.findAlias(site, alias));
            if (current.isPresent() && current.get().target().equals(deployId)) {
              return new Finalized(deploy, current.get());
            }
            throw new DeployStateException(
                site, deployId, DeployState.ACTIVE, "it is already finalized; promote it instead");
          }
          checkManifest(manifest);
          retrier.call(op, () -> commands.beginFinalize(site, deployId, actor));
          Map<String, Marker.VerifiedFile> verified;
          try {
            verified = verify(op, site, deployId, manifest);
          } catch (InvalidInputException failed) {
            // Incomplete, mismatched or over the files limit: nothing written yet.
            unseal(op, site, deployId);
            throw failed;
          }
          Marker marker =
              Marker.of(
                  site,
                  deployId,
                  deploy.sha(),
                  operations.clock().instant(),
                  manifest.size(),
                  verified);
          byte[] json = marker.toJson();
          retrier.run(
              op,
              () ->
                  blobs.put(
                      BlobLayout.marker(site, deployId),
                      new ByteArrayInputStream(json),
                      json.length,
                      BlobMetadata.ofType("application/json")));
          Alias moved;
          try {
            moved = retrier.call(op, () -> commands.activate(site, deployId, alias, expect, actor));
          } catch (AliasDriftException drift) {
            // Not finalized after all: the marker goes before the deploy is unsealed, so a pending
            // deploy holds none (GC would keep it for retention rather than grace). Should the
            // delete fail, the deploy stays sealed, like a finalize that crashed: the next
            // finalize resumes it.
            try {
              retrier.run(op, () -> blobs.delete(BlobLayout.marker(site, deployId)));
            } catch (RuntimeException e) {
              drift.addSuppressed(e);
              throw drift;
            }
            unseal(op, site, deployId);
            throw drift;
          }
          uploads.forget(site, deployId);
          return new Finalized(requireDeploy(op, site, deployId), moved);
        });
  }

  /** SHA-256 checks that need a read of their own run at most this many at a time. */
  public static final int DIGEST_CHECKS_IN_PARALLEL = 16;

  private void unseal(Operation op, SiteId site, DeployId deployId) {
    retrier.call(op, () -> commands.abortFinalize(site, deployId, actor));
  }

  private void checkManifest(Manifest manifest) {
    if (manifest.files().isEmpty()) {
      throw new InvalidInputException("manifest", "is empty; a deploy needs at least index.html");
    }
    if (!manifest.files().contains(UploadPath.INDEX_HTML)) {
      throw new InvalidInputException("manifest", "does not contain index.html");
    }
    if (manifest.size() > options.maxFilesPerDeploy()) {
      throw new InvalidInputException(
          "manifest",
          "lists "
              + manifest.size()
              + " files; at most "
              + options.maxFilesPerDeploy()
              + " allowed");
    }
  }

  /**
   * Lists the sealed deploy and checks it against the manifest; returns every file as verified, by
   * path relative to the deploy.
   */
  private Map<String, Marker.VerifiedFile> verify(
      Operation op, SiteId site, DeployId deployId, Manifest manifest) {
    var prefix = BlobLayout.deploy(site, deployId);
    Map<String, BlobInfo> present = new TreeMap<>();
    for (BlobInfo info : retrier.call(op, () -> blobs.listAll(prefix))) {
      String relative = info.key().relativeTo(prefix);
      if (!relative.equals(BlobLayout.MARKER_NAME)) {
        present.put(relative, info);
      }
    }
    // Uploads count files per host (see UploadCounter); only the listing sees every host's.
    if (present.size() > options.maxFilesPerDeploy()) {
      throw new InvalidInputException(
          "files",
          "deploy "
              + deployId
              + " holds "
              + present.size()
              + " files, more than the maximum of "
              + options.maxFilesPerDeploy()
              + " (uploads through several hosts are counted by each host alone); upload the"
              + " site to a new deploy with at most "
              + options.maxFilesPerDeploy()
              + " files");
    }
    List<UploadPath> missing =
        manifest.files().stream().filter(p -> !present.containsKey(p.value())).toList();
    if (!missing.isEmpty()) {
      throw new ManifestIncompleteException(missing);
    }
    List<ManifestMismatchException.Mismatch> mismatches = new ArrayList<>();
    List<Manifest.Entry> digestChecks = new ArrayList<>();
    for (Manifest.Entry entry : manifest.entries().values()) {
      BlobInfo stored = present.get(entry.path().value());
      if (stored.size() != entry.size()) {
        mismatches.add(
            new ManifestMismatchException.Mismatch(
                entry.path().value(),
                "size",
                Long.toString(entry.size()),
                Long.toString(stored.size())));
      } else {
        digestChecks.add(entry);
      }
    }
    Map<String, String> digests = storedDigests(op, present, digestChecks);
    for (Manifest.Entry entry : digestChecks) {
      String stored = digests.get(entry.path().value());
      if (!entry.sha256().equals(stored)) {
        mismatches.add(
            new ManifestMismatchException.Mismatch(
                entry.path().value(), "sha256", entry.sha256(), stored));
      }
    }
    if (!mismatches.isEmpty()) {
      throw new ManifestMismatchException(mismatches);
    }
    Map<String, Marker.VerifiedFile> verified = new TreeMap<>();
    present.forEach(
        (path, info) ->
            verified.put(
                path,
                new Marker.VerifiedFile(
                    info.size(), info.etag(), digests.getOrDefault(path, info.sha256()))));
    return verified;
  }

  /**
   * The stored SHA-256 of each entry's file: from the listing when it has them, else a stat, else
   * the bytes themselves, read {@value #DIGEST_CHECKS_IN_PARALLEL} at a time.
   */
  private Map<String, String> storedDigests(
      Operation op, Map<String, BlobInfo> present, List<Manifest.Entry> entries) {
    Map<String, String> digests = new java.util.concurrent.ConcurrentHashMap<>();
    Map<String, BlobKey> toRead = new TreeMap<>();
    for (Manifest.Entry entry : entries) {
      BlobInfo listed = present.get(entry.path().value());
      if (listed.sha256() != null) {
        digests.put(entry.path().value(), listed.sha256());
      } else {
        toRead.put(entry.path().value(), listed.key());
      }
    }
    if (toRead.isEmpty()) {
      return digests;
    }
    java.util.concurrent.ExecutorService pool =
        java.util.concurrent.Executors.newFixedThreadPool(
            Math.min(DIGEST_CHECKS_IN_PARALLEL, toRead.size()),
            Threads.daemon("durable-deploy-verify"));
    try {
      List<java.util.concurrent.Future<?>> reads = new ArrayList<>();
      toRead.forEach(
          (path, key) ->
              reads.add(
                  pool.submit(
                      () -> {
                        String digest = retrier.call(op, () -> storedDigest(key));
                        if (digest != null) {
                          digests.put(path, digest);
                        }
                      })));
      for (java.util.concurrent.Future<?> read : reads) {
        read.get();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new DurableDeployException("finalize was interrupted while verifying digests", e);
    } catch (java.util.concurrent.ExecutionException e) {
      throw e.getCause() instanceof RuntimeException r
          ? r
          : new DurableDeployException("verifying a digest failed", e.getCause());
    } finally {
      pool.shutdownNow();
    }
    return digests;
  }

  /** The SHA-256 the store recorded for the object, or else that of its bytes; null if gone. */
  private String storedDigest(BlobKey key) {
    Optional<BlobInfo> stat = blobs.stat(key);
    if (stat.isEmpty()) {
      return null;
    }
    if (stat.get().sha256() != null) {
      return stat.get().sha256();
    }
    Optional<BlobContent> content = blobs.get(key);
    if (content.isEmpty()) {
      return null;
    }
    try (BlobContent c = content.get();
        java.security.DigestInputStream in =
            new java.security.DigestInputStream(c.stream(), sha256())) {
      in.transferTo(java.io.OutputStream.nullOutputStream());
      return java.util.HexFormat.of().formatHex(in.getMessageDigest().digest());
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException("reading " + key + " to verify its SHA-256 failed", e);
    }
  }

  private static java.security.MessageDigest sha256() {
    try {
      return java.security.MessageDigest.getInstance("SHA-256");
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JDK has SHA-256", e);
    }
  }

  /**
   * Points {@code alias} at an active deploy by compare-and-set (E2).
   *
   * @throws AliasDriftException when {@code expect} does not match, with the current alias
   */
  public Alias promote(SiteId site, DeployId target, AliasName alias, AliasExpectation expect) {
    Objects.requireNonNull(target, "deployId");
    Objects.requireNonNull(alias, "alias");
    Objects.requireNonNull(expect, "expect");
    return mutate("promote", site, op -> moveAlias(op, site, alias, target, expect));
  }

  /** Points {@code to} at the deploy {@code from} targets (e.g. preview to production). */
  public Alias promoteAlias(SiteId site, AliasName from, AliasName to, AliasExpectation expect) {
    Objects.requireNonNull(from, "from");
    Objects.requireNonNull(to, "to");
    Objects.requireNonNull(expect, "expect");
    return mutate(
        "promote",
        site,
        op -> {
          Alias source =
              retrier
                  .call(op, () -> metadata.findAlias(site, from))
                  .orElseThrow(
                      () ->
                          new InvalidInputException("from", "alias '" + from + "' does not exist"));
          return moveAlias(op, site, to, source.target(), expect);
        });
  }

  /** Points {@code alias} back at an earlier deploy {@code to}, by CAS. */
  public Alias rollback(SiteId site, AliasName alias, DeployId to, AliasExpectation expect) {
    Objects.requireNonNull(alias, "alias");
    Objects.requireNonNull(to, "to");
    Objects.requireNonNull(expect, "expect");
    return mutate("rollback", site, op -> moveAlias(op, site, alias, to, expect));
  }

  /**
   * Points {@code alias} at the newest active deploy older than its current target, expecting the
   * alias unchanged since it was read.
   *
   * @throws DeployStateException when there is no earlier active deploy
   */
  public Alias rollback(SiteId site, AliasName alias) {
    Objects.requireNonNull(alias, "alias");
    return mutate(
        "rollback",
        site,
        op -> {
          Alias current =
              retrier
                  .call(op, () -> metadata.findAlias(site, alias))
                  .orElseThrow(
                      () ->
                          new InvalidInputException(
                              "alias", "alias '" + alias + "' does not exist"));
          Deploy previous =
              retrier.call(op, () -> metadata.listDeploys(site)).stream()
                  .filter(Deploy::isActive)
                  .filter(d -> d.id().compareTo(current.target()) < 0)
                  .max(Comparator.comparing(Deploy::id))
                  .orElseThrow(
                      () ->
                          new DeployStateException(
                              site,
                              current.target(),
                              DeployState.ACTIVE,
                              "it is the oldest active deploy; there is nothing to roll back to"));
          return moveAlias(
              op, site, alias, previous.id(), AliasExpectation.version(current.version()));
        });
  }

  /**
   * One CAS move. If a transient failure hid a committed first attempt, the retry reports drift
   * whose current alias is the caller's own target: honest, and the caller can check it. Guessing
   * "that was us" instead would count another writer's identical move as ours (a lost update).
   */
  private Alias moveAlias(
      Operation op, SiteId site, AliasName alias, DeployId target, AliasExpectation expect) {
    return retrier.call(op, () -> commands.moveAlias(site, alias, target, expect, actor));
  }

  /**
   * Soft-deletes a deploy: the tombstone row first, then its bytes move to {@code
   * _trash/<site>/<deployId>/} (V6). Refused for an aliased deploy (V1). A crash between the two
   * steps is repaired by calling delete again.
   */
  public Tombstone delete(SiteId site, DeployId deployId) {
    Objects.requireNonNull(deployId, "deployId");
    return mutate(
        "delete",
        site,
        op -> {
          Tombstone tombstone =
              retrier.call(
                  op, () -> commands.tombstone(site, deployId, options.recoveryWindow(), actor));
          retrier.run(
              op,
              () ->
                  blobs.movePrefix(
                      BlobLayout.deploy(site, deployId),
                      BlobLayout.trash(site, deployId),
                      op.fence()));
          uploads.forget(site, deployId);
          return tombstone;
        });
  }

  /**
   * Brings a deleted deploy back within its recovery window: bytes back first, then the tombstone
   * removed. Never writes an alias. A live deploy is returned unchanged.
   *
   * @throws TombstoneExpiredException when the window has closed
   */
  public Deploy restore(SiteId site, DeployId deployId) {
    Objects.requireNonNull(deployId, "deployId");
    return mutate(
        "restore",
        site,
        op -> {
          Optional<Tombstone> tombstone =
              retrier.call(op, () -> metadata.findTombstone(site, deployId));
          if (tombstone.isEmpty()) {
            return requireDeploy(op, site, deployId);
          }
          if (tombstone.get().isExpired(operations.clock().instant())) {
            throw new TombstoneExpiredException(site, deployId, tombstone.get().expiresAt());
          }
          retrier.run(
              op,
              () ->
                  blobs.movePrefix(
                      BlobLayout.trash(site, deployId),
                      BlobLayout.deploy(site, deployId),
                      op.fence()));
          return retrier.call(op, () -> commands.restore(site, deployId, actor));
        });
  }

  /**
   * Removes a site for good: it records its intent (the site's tombstone), then deletes all its
   * rows, then all its bytes (deploys, aliases, trash): record first, bytes second, like every
   * removal (V6), so an upload racing it finds its deploy gone and withdraws what it wrote.
   * Idempotent. A crash half way is finished by calling it again, by the next {@code init} on the
   * site, by {@code reconcile} or by the {@code tombstone-purge} cron (see {@link SitePurge}).
   */
  public SiteDeletion purgeSite(SiteId site) {
    return mutate("purge-site", site, op -> sitePurge.purge(op, site, actor));
  }

  // ---- listings ------------------------------------------------------------------------------

  public Optional<Deploy> deploy(SiteId site, DeployId deployId) {
    return metadata.findDeploy(site, deployId);
  }

  /** Live deploys of the site, oldest first. */
  public List<Deploy> deploys(SiteId site) {
    return metadata.listDeploys(site);
  }

  public List<Alias> aliases(SiteId site) {
    return metadata.listAliases(site);
  }

  /** Deleted deploys still restorable or awaiting purge, each with its {@code expiresAt}. */
  public List<Tombstone> trash(SiteId site) {
    return metadata.listTombstones(site);
  }

  // ---- internals -----------------------------------------------------------------------------

  private Deploy requireDeploy(Operation op, SiteId site, DeployId deployId) {
    return retrier
        .call(op, () -> metadata.findDeploy(site, deployId))
        .orElseThrow(() -> new DeployNotFoundException(site, deployId));
  }

  /** Runs a mutation as an operation under the site lock (E1). */
  private <T> T mutate(String name, SiteId site, java.util.function.Function<Operation, T> body) {
    Objects.requireNonNull(site, "site");
    return operations.run(
        name,
        site,
        op -> {
          // Lock: the site's lock, serialising every mutation of the site (E1), so no two sagas
          // interleave their steps on one site; it fences every step of the saga.
          try (SiteLock lock = op.lockSite(store.siteLocks(), site, options.lockTimeout())) {
            return body.apply(op);
          }
        });
  }

  /**
   * Counts distinct uploaded paths per pending deploy in this process, seeded from a listing the
   * first time a deploy is seen, so the files-per-deploy limit costs no listing per upload; and so
   * tells an upload whether its path exists (a replacement, which takes the site lock) without
   * reading the stream twice. Another host's uploads are not seen: a create of such a path is
   * refused by the store and reported as {@link UploadConflictException}, and the path is known
   * here from then on. Bounded to the most recently used deploys; so the limit it enforces is per
   * host, and finalize enforces it for the deploy (every file its listing finds).
   */
  static final class UploadCounter {
    private static final int TRACKED_DEPLOYS = 1_000;
    private final int max;
    private final Map<String, Set<String>> paths =
        new LinkedHashMap<>(16, 0.75f, true) {
          @Override
          protected boolean removeEldestEntry(Map.Entry<String, Set<String>> eldest) {
            return size() > TRACKED_DEPLOYS;
          }
        };

    UploadCounter(int max) {
      this.max = max;
    }

    /**
     * Counts {@code key} into its deploy, refusing it past the maximum, and returns whether the
     * deploy already held it (as far as this host knows).
     */
    boolean admit(SiteId site, DeployId id, BlobKey key, Supplier<Set<String>> seed) {
      String deployKey = site + "/" + id;
      Set<String> seen;
      synchronized (paths) {
        seen = paths.get(deployKey);
      }
      if (seen == null) {
        Set<String> seeded = new HashSet<>(seed.get());
        synchronized (paths) {
          seen = paths.computeIfAbsent(deployKey, k -> seeded);
        }
      }
      synchronized (seen) {
        if (seen.contains(key.value())) {
          return true;
        }
        if (seen.size() >= max) {
          throw new InvalidInputException(
              "files", "deploy " + id + " already holds " + max + " files, the maximum");
        }
        seen.add(key.value());
        return false;
      }
    }

    /** Takes back a key {@link #admit} counted whose upload stored nothing. */
    void withdraw(SiteId site, DeployId id, BlobKey key) {
      Set<String> seen;
      synchronized (paths) {
        seen = paths.get(site + "/" + id);
      }
      if (seen != null) {
        synchronized (seen) {
          seen.remove(key.value());
        }
      }
    }

    void forget(SiteId site, DeployId id) {
      synchronized (paths) {
        paths.remove(site + "/" + id);
      }
    }
  }
}
