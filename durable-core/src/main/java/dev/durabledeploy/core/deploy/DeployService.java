package dev.durabledeploy.core.deploy;

import dev.durabledeploy.core.DeployOptions;
import dev.durabledeploy.core.events.Operations;
import dev.durabledeploy.core.events.Operations.Operation;
import dev.durabledeploy.core.metadata.MetadataCommands;
import dev.durabledeploy.core.purge.SitePurge;
import dev.durabledeploy.core.purge.SiteTrash;
import dev.durabledeploy.core.retry.Retrier;
import dev.durabledeploy.spi.Actions;
import dev.durabledeploy.spi.Actor;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.Store;
import dev.durabledeploy.spi.UploadPath;
import dev.durabledeploy.spi.blob.BlobExistsException;
import dev.durabledeploy.spi.blob.BlobInfo;
import dev.durabledeploy.spi.blob.BlobMetadata;
import dev.durabledeploy.spi.blob.BlobStore;
import dev.durabledeploy.spi.exception.AliasDriftException;
import dev.durabledeploy.spi.exception.DeployBytesMissingException;
import dev.durabledeploy.spi.exception.DeployNotFoundException;
import dev.durabledeploy.spi.exception.DeployStateException;
import dev.durabledeploy.spi.exception.InvalidInputException;
import dev.durabledeploy.spi.exception.SiteLockLostException;
import dev.durabledeploy.spi.exception.SiteNotFoundException;
import dev.durabledeploy.spi.exception.TombstoneExpiredException;
import dev.durabledeploy.spi.lock.SiteLock;
import dev.durabledeploy.spi.metadata.Alias;
import dev.durabledeploy.spi.metadata.AliasExpectation;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.spi.metadata.MetadataStore;
import dev.durabledeploy.spi.metadata.Site;
import dev.durabledeploy.spi.metadata.SiteDeletion;
import dev.durabledeploy.spi.metadata.Tombstone;
import java.io.InputStream;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
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
 *
 * <p>Every mutation asks the host's {@link dev.durabledeploy.spi.Authorizer} first, with this
 * view's actor and the mutation's {@link Actions action}; a refusal ({@link
 * dev.durabledeploy.spi.exception.AccessDeniedException}) comes before the operation starts, so it
 * takes no lock and writes nothing. The listings are not checked.
 */
public final class DeployService {

  private final Store store;
  private final MetadataStore metadata;
  private final Operations operations;
  private final DeployOptions options;
  private final Actor actor;
  private final SitePurge sitePurge;
  private final SiteTrash siteTrash;
  private final Lifecycle lifecycle;
  private final Uploads uploads;
  private final Finalization finalization;
  private final AliasMoves aliasMoves;
  private final UploadCounter uploadCounter;

  public DeployService(
      Store store,
      BlobStore blobs,
      Operations operations,
      Retrier retrier,
      DeployOptions options,
      RandomGenerator random) {
    UploadCounter uploadCounter = new UploadCounter(options.maxFilesPerDeploy());
    this.store = store;
    this.metadata = store.metadata();
    MetadataCommands commands = new MetadataCommands(metadata);
    this.operations = operations;
    this.options = options;
    this.actor = Actor.SYSTEM;
    this.sitePurge = new SitePurge(metadata, blobs, retrier, operations.clock());
    this.siteTrash = new SiteTrash(metadata, blobs, retrier, uploadCounter::forget);
    this.lifecycle =
        new Lifecycle(
            metadata,
            commands,
            blobs,
            operations,
            retrier,
            options,
            random,
            uploadCounter,
            sitePurge);
    this.uploads =
        new Uploads(
            store,
            blobs,
            retrier,
            options,
            uploadCounter,
            new Settlement(store, blobs, operations, retrier, options, uploadCounter));
    this.finalization =
        new Finalization(metadata, commands, blobs, operations, retrier, options, uploadCounter);
    this.aliasMoves = new AliasMoves(metadata, commands, blobs, retrier);
    this.uploadCounter = uploadCounter;
  }

  /**
   * {@code base}, recording {@code actor}. Every collaborator takes the actor per call and holds
   * nothing else that depends on it, so the view shares them all, the upload counter too.
   */
  private DeployService(DeployService base, Actor actor) {
    this.store = base.store;
    this.metadata = base.metadata;
    this.operations = base.operations;
    this.options = base.options;
    this.actor = actor;
    this.sitePurge = base.sitePurge;
    this.siteTrash = base.siteTrash;
    this.lifecycle = base.lifecycle;
    this.uploads = base.uploads;
    this.finalization = base.finalization;
    this.aliasMoves = base.aliasMoves;
    this.uploadCounter = base.uploadCounter;
  }

  /**
   * The same service, recording {@code actor} in the audit log for every mutation and asking the
   * authorizer about {@code actor}. Without it calls run as {@link Actor#SYSTEM}.
   */
  public DeployService as(Actor actor) {
    return new DeployService(this, Objects.requireNonNull(actor));
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
    return mutate("init", Actions.DEPLOY_INIT, site, op -> lifecycle.init(op, site, sha, actor));
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
    operations.authorize(actor, site, Actions.DEPLOY_UPLOAD);
    return operations.run(
        "upload", site, op -> uploads.upload(op, site, deployId, path, data, size, metadata));
  }

  /**
   * How long an upload that wrote while its deploy stopped being pending waits for the deploy's
   * fate to be decided (see the class description): generous, because a finalize of a large deploy
   * verifies for minutes on a slow store (20,000 SHA-256 checks against S3 take one to three).
   */
  public static final Duration SETTLE_TIMEOUT = Duration.ofMinutes(10);

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
   * <p>Cost: one listing of the prefix (which gives sizes and etags); SHA-256 checks take the
   * digest this host computed while it wrote a file whose listed ETag is still that write's (no
   * request), and read what neither gives, at most {@value #DIGEST_CHECKS_IN_PARALLEL} objects at a
   * time: a stat where the store records the digest, the bytes where it does not (S3 objects above
   * its multipart threshold). So a deploy uploaded through this host costs the listing; files
   * uploaded through other hosts cost a stat each.
   */
  public Finalized finalizeDeploy(
      SiteId site, DeployId deployId, AliasName alias, Manifest manifest, AliasExpectation expect) {
    Objects.requireNonNull(alias, "alias");
    Objects.requireNonNull(manifest, "manifest");
    Objects.requireNonNull(expect, "expect");
    return mutate(
        "finalize",
        Actions.DEPLOY_FINALIZE,
        site,
        op -> finalization.finalizeDeploy(op, site, deployId, alias, manifest, expect, actor));
  }

  /** SHA-256 checks that need a read of their own run at most this many at a time. */
  public static final int DIGEST_CHECKS_IN_PARALLEL = 16;

  /**
   * Points {@code alias} at an active deploy by compare-and-set (E2). Every alias move (this,
   * {@link #promoteAlias}, both {@code rollback}s) first checks that the target's marker and the
   * files it lists are still in the blob store (one listing of the deploy's prefix).
   *
   * @throws AliasDriftException when {@code expect} does not match, with the current alias
   * @throws DeployBytesMissingException when the target's marker or files are gone; nothing moved
   */
  public Alias promote(SiteId site, DeployId target, AliasName alias, AliasExpectation expect) {
    Objects.requireNonNull(target, "deployId");
    Objects.requireNonNull(alias, "alias");
    Objects.requireNonNull(expect, "expect");
    return mutate(
        "promote",
        Actions.ALIAS_PROMOTE,
        site,
        op -> aliasMoves.move(op, site, alias, target, expect, actor));
  }

  /** Points {@code to} at the deploy {@code from} targets (e.g. preview to production). */
  public Alias promoteAlias(SiteId site, AliasName from, AliasName to, AliasExpectation expect) {
    Objects.requireNonNull(from, "from");
    Objects.requireNonNull(to, "to");
    Objects.requireNonNull(expect, "expect");
    return mutate(
        "promote",
        Actions.ALIAS_PROMOTE,
        site,
        op -> aliasMoves.promoteAlias(op, site, from, to, expect, actor));
  }

  /** Points {@code alias} back at an earlier deploy {@code to}, by CAS. */
  public Alias rollback(SiteId site, AliasName alias, DeployId to, AliasExpectation expect) {
    Objects.requireNonNull(alias, "alias");
    Objects.requireNonNull(to, "to");
    Objects.requireNonNull(expect, "expect");
    return mutate(
        "rollback",
        Actions.ALIAS_ROLLBACK,
        site,
        op -> aliasMoves.move(op, site, alias, to, expect, actor));
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
        Actions.ALIAS_ROLLBACK,
        site,
        op -> aliasMoves.rollback(op, site, alias, actor));
  }

  /**
   * Soft-deletes a deploy: the tombstone row first, then its bytes move to {@code
   * _trash/<site>/<deployId>/} (V6). Refused for an aliased deploy (V1). A crash between the two
   * steps is repaired by calling delete again.
   */
  public Tombstone delete(SiteId site, DeployId deployId) {
    Objects.requireNonNull(deployId, "deployId");
    return mutate(
        "delete", Actions.DEPLOY_DELETE, site, op -> lifecycle.delete(op, site, deployId, actor));
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
        Actions.DEPLOY_RESTORE,
        site,
        op -> lifecycle.restore(op, site, deployId, actor));
  }

  /**
   * Deletes a site so that it can be restored: its record becomes TRASHED (every command on it is
   * refused from then on), its pending deploys are abandoned, and its bytes (deploys and the alias
   * projection, so the serve plane stops serving it) move to {@code _trash-site/<site>/}; {@link
   * #restoreSite} brings it back until {@link DeployOptions#recoveryWindow()} has passed, after
   * which the {@code tombstone-purge} cron deletes it for good. Record first, bytes second (V6): an
   * upload racing it finds its deploy gone and withdraws what it wrote. Idempotent; a crash half
   * way is finished by calling it again or by {@code reconcile}. An unregistered site with content
   * is registered as trashed; one without content is left alone (all zero).
   *
   * @throws dev.durabledeploy.spi.exception.SiteStateException when the site is being purged
   */
  public SiteDeletion purgeSite(SiteId site) {
    return mutate(
        "trash-site",
        Actions.SITE_DELETE,
        site,
        op -> {
          // A purge for good that crashed half way is finished rather than trashed.
          if (sitePurge.finishPending(op, site, actor)) {
            return new SiteDeletion(0, 0, 0);
          }
          return siteTrash.trash(op, site, options.recoveryWindow(), actor);
        });
  }

  /**
   * Brings a site deleted by {@link #purgeSite} back, within its recovery window: its record is
   * ACTIVE again, then its bytes move back, with its deploys, aliases (and their projection) and
   * tombstones as they were; the deploys that were pending when it was deleted are gone. An active
   * site is returned unchanged.
   *
   * @throws dev.durabledeploy.spi.exception.SiteNotFoundException when the site is not registered
   *     (or was purged for good)
   * @throws dev.durabledeploy.spi.exception.SiteStateException when its recovery window has closed,
   *     or it is being purged
   */
  public Site restoreSite(SiteId site) {
    return mutate(
        "restore-site",
        Actions.SITE_RESTORE,
        site,
        op -> {
          // A purge for good was asked for after the trash and did not finish: that request
          // stands (the tombstone purge would finish it anyway, taking the restored site with it).
          if (sitePurge.finishPending(op, site, actor)) {
            throw new SiteNotFoundException(
                site,
                "a purge for good of it was unfinished and is now done; it cannot be restored");
          }
          return siteTrash.restore(op, site, actor);
        });
  }

  /**
   * Removes a site for good, now, whatever its state: it records its intent, then deletes all its
   * rows (its record stays PURGING meanwhile), then all its bytes (live, trash and site trash),
   * then the record: record first, bytes second, like every removal (V6), so an upload racing it
   * finds its deploy gone and withdraws what it wrote. Nothing can be restored afterwards.
   * Idempotent. A crash half way is finished by calling it again, by the next {@code init} on the
   * site, by {@code reconcile} or by the {@code tombstone-purge} cron (see {@link SitePurge}).
   */
  public SiteDeletion purgeSiteNow(SiteId site) {
    return mutate("purge-site", Actions.SITE_PURGE, site, op -> sitePurge.purge(op, site, actor));
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

  /**
   * Runs a mutation as an operation under the site lock (E1), once the authorizer allowed {@code
   * action}: a refusal starts no operation, takes no lock and writes nothing.
   */
  private <T> T mutate(
      String name, String action, SiteId site, java.util.function.Function<Operation, T> body) {
    Objects.requireNonNull(site, "site");
    operations.authorize(actor, site, action);
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
}
