package dev.durabledeploy.core.deploy;

import dev.durabledeploy.core.DeployOptions;
import dev.durabledeploy.core.events.Operations;
import dev.durabledeploy.core.events.Operations.Operation;
import dev.durabledeploy.core.purge.SitePurge;
import dev.durabledeploy.core.retry.Retrier;
import dev.durabledeploy.spi.Actor;
import dev.durabledeploy.spi.AliasDriftException;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.DeployNotFoundException;
import dev.durabledeploy.spi.DeployStateException;
import dev.durabledeploy.spi.DurableDeployException;
import dev.durabledeploy.spi.InvalidInputException;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.Store;
import dev.durabledeploy.spi.TombstoneExpiredException;
import dev.durabledeploy.spi.UploadPath;
import dev.durabledeploy.spi.blob.BlobContent;
import dev.durabledeploy.spi.blob.BlobExistsException;
import dev.durabledeploy.spi.blob.BlobInfo;
import dev.durabledeploy.spi.blob.BlobKey;
import dev.durabledeploy.spi.blob.BlobMetadata;
import dev.durabledeploy.spi.blob.BlobStore;
import dev.durabledeploy.spi.lock.SiteLock;
import dev.durabledeploy.spi.metadata.Alias;
import dev.durabledeploy.spi.metadata.AliasExpectation;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.spi.metadata.DeployState;
import dev.durabledeploy.spi.metadata.MetadataStore;
import dev.durabledeploy.spi.metadata.SiteDeletion;
import dev.durabledeploy.spi.metadata.Tombstone;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
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
 * tombstone before moving bytes to trash (V6); restore moves bytes back before removing the
 * tombstone.
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
 *       ACTIVE, deleted, purged) and the upload settles under the site lock, so after finalize,
 *       delete or purge has finished: its file stays only if the deploy is pending again or the
 *       marker lists it (finalize verified it); otherwise it deletes the object it created — nobody
 *       else's bytes — and fails with {@link DeployStateException} or {@link
 *       DeployNotFoundException}. Until then the file is visible under the prefix, outside what
 *       finalize verified; an upload that dies before settling leaves it to the reconciler ({@code
 *       BYTES_WITHOUT_ROW}, {@code TOMBSTONE_WITH_LIVE_BYTES}, {@code FILE_ADDED_AFTER_FINALIZE}).
 *   <li>Re-uploading a path that exists (which replaces it) is rare and must not race finalize's
 *       verification, so it runs under the site lock with the state re-checked there. The body is
 *       read to the end first (in memory, or in a temporary file above 1 MiB), so a slow client
 *       never holds the lock. Whether a path exists comes from the files-per-deploy counter, seeded
 *       from one listing per deploy per host and updated by this host's uploads; a path another
 *       host created meanwhile is found by the create-only write, which refuses.
 * </ol>
 *
 * <p>One interleaving is not detected, because it leaves no finalized deploy changed: a path this
 * host did not know existed, uploaded while the deploy is deleted and restored, where the restore
 * puts the deploy's own older copy of the path back over the upload's; the upload reports success
 * and the pending deploy holds the older copy.
 *
 * <p>A blob store without create-only writes, or a metadata store without the FINALIZING state (a
 * third-party one written against an older SPI), gets the third way for every upload: correct, but
 * one upload per site at a time. Instances are immutable and thread-safe; {@link #as} gives a view
 * that records another actor.
 */
public final class DeployService {

  private final Store store;
  private final MetadataStore metadata;
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
          return retrier.call(op, () -> metadata.createPending(site, chosen, sha, actor));
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
          boolean known = uploads.admit(site, deployId, key, () -> countUploaded(site, deployId));
          if (known || !lockFreeUploads()) {
            return replace(op, site, deployId, key, data, size, metadata);
          }
          return create(op, site, deployId, path, key, data, size, metadata);
        });
  }

  /** Whether new files can be written without the site lock (see the class description). */
  private boolean lockFreeUploads() {
    return blobs.supportsCreate() && metadata.supportsFinalizing();
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
      // Any other failure may have stored the object, so the path stays counted as existing and
      // a re-sent upload replaces it.
      uploads.withdraw(site, deployId, key);
      throw refused;
    }
    Optional<Deploy> now = retrier.call(op, () -> this.metadata.findDeploy(site, deployId));
    if (now.isPresent() && now.get().isPending()) {
      // Read after the write: a seal, delete or purge committed later, and sees the file.
      return created;
    }
    return settle(op, site, deployId, path, key, created);
  }

  /**
   * The deploy stopped being pending while the upload wrote: decide, after whatever ended it has
   * finished, whether the created file belongs to it.
   */
  private BlobInfo settle(
      Operation op,
      SiteId site,
      DeployId deployId,
      UploadPath path,
      BlobKey key,
      BlobInfo created) {
    // Lock: the site's lock, taken after finalize, delete, restore, purge or GC (which hold it
    // from their first step to their last) let go, so the state and marker read here are final.
    // It protects "a finalized deploy's bytes never change": the file stays only if finalize saw
    // it, or if the deploy is pending again (a failed finalize, a restore).
    try (SiteLock lock = op.lockSite(store.siteLocks(), site, options.lockTimeout())) {
      Optional<Deploy> deploy = retrier.call(op, () -> metadata.findDeploy(site, deployId));
      if (deploy.isPresent()) {
        if (deploy.get().isPending()) {
          return created;
        }
        Marker marker = readMarker(op, site, deployId);
        if (marker != null && marker.verified().containsKey(path.value())) {
          return created;
        }
      }
      // Created by this upload (create-only), so deleting it loses nobody else's bytes.
      retrier.run(op, () -> blobs.delete(key));
      uploads.withdraw(site, deployId, key);
      if (deploy.isEmpty()) {
        throw new DeployNotFoundException(site, deployId);
      }
      throw new DeployStateException(
          site,
          deployId,
          deploy.get().state(),
          deploy.get().isActive()
              ? "it was finalized while this upload was writing, without this file; the file was"
                  + " withdrawn (upload it to a new deploy)"
              : "a finalize of it began while this upload was writing; the file was withdrawn"
                  + " (call finalizeDeploy to finish that finalize, or upload again if it fails)");
    }
  }

  private Marker readMarker(Operation op, SiteId site, DeployId deployId) {
    Optional<BlobContent> content =
        retrier.call(op, () -> blobs.get(BlobLayout.marker(site, deployId)));
    if (content.isEmpty()) {
      return null;
    }
    try (BlobContent c = content.get()) {
      return Marker.parse(c.readAllBytes());
    } catch (IllegalArgumentException unreadable) {
      return null;
    }
  }

  /**
   * A path that exists (or a store without create-only writes): the body is read to the end first,
   * then written under the site lock with the state re-checked there.
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
        requireUploadable(requireDeploy(op, site, deployId));
        return retrier.call(
            op,
            () -> {
              try (InputStream in = body.open()) {
                return blobs.put(key, in, size, metadata);
              } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
              }
            });
      }
    }
  }

  private Set<String> countUploaded(SiteId site, DeployId deployId) {
    Set<String> paths = new HashSet<>();
    blobs.listAll(BlobLayout.deploy(site, deployId)).forEach(i -> paths.add(i.key().value()));
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
   * every file is in the blob store ({@link ManifestIncompleteException} lists the missing), and
   * for a manifest of {@link Manifest.Entry entries} each size and SHA-256 matches the stored bytes
   * ({@link ManifestMismatchException}); a failed verification unseals the deploy, so the client
   * can upload what is missing and finalize again. Then the marker is written, recording every file
   * with its size, etag and SHA-256 where known, then one metadata command makes the deploy ACTIVE,
   * moves the alias by CAS, releases the previous target and appends {@code alias.changed} and
   * {@code site.changed} atomically ({@link AliasDriftException} unseals it too). Re-running a
   * finalize that succeeded returns the same result (V9).
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
          boolean sealing = metadata.supportsFinalizing();
          if (sealing) {
            retrier.call(op, () -> metadata.beginFinalize(site, deployId, actor));
          }
          Map<String, Marker.VerifiedFile> verified;
          try {
            verified = verify(op, site, deployId, manifest);
          } catch (ManifestIncompleteException | ManifestMismatchException failed) {
            unseal(op, site, deployId, sealing);
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
            moved = retrier.call(op, () -> metadata.activate(site, deployId, alias, expect, actor));
          } catch (AliasDriftException drift) {
            unseal(op, site, deployId, sealing);
            throw drift;
          }
          uploads.forget(site, deployId);
          return new Finalized(requireDeploy(op, site, deployId), moved);
        });
  }

  /** SHA-256 checks that need a read of their own run at most this many at a time. */
  public static final int DIGEST_CHECKS_IN_PARALLEL = 16;

  private void unseal(Operation op, SiteId site, DeployId deployId, boolean sealing) {
    if (sealing) {
      retrier.call(op, () -> metadata.abortFinalize(site, deployId, actor));
    }
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
            r -> {
              Thread t = new Thread(r, "durable-deploy-verify");
              t.setDaemon(true);
              return t;
            });
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
    return retrier.call(op, () -> metadata.moveAlias(site, alias, target, expect, actor));
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
                  op, () -> metadata.tombstone(site, deployId, options.recoveryWindow(), actor));
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
          return retrier.call(op, () -> metadata.restore(site, deployId, actor));
        });
  }

  /**
   * Removes a site for good: all its bytes (deploys, aliases, trash) first, then all its rows (V6).
   * Idempotent. The purge records its intent first, so a crash half way is finished by calling it
   * again, by the next {@code init} on the site, by {@code reconcile} or by the {@code
   * tombstone-purge} cron (see {@link SitePurge}).
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
   * here from then on. Bounded to the most recently used deploys; finalize re-checks the manifest
   * size authoritatively.
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
