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
import dev.durabledeploy.spi.InvalidInputException;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.Store;
import dev.durabledeploy.spi.TombstoneExpiredException;
import dev.durabledeploy.spi.UploadPath;
import dev.durabledeploy.spi.blob.BlobInfo;
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
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
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
 * <p>Uploads take no lock: they only write into their own pending deploy's prefix, which GC leaves
 * alone for the grace period (V3). Instances are immutable and thread-safe; {@link #as} gives a
 * view that records another actor.
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
   * content type guessed from the extension. Re-uploading a path replaces it.
   *
   * @throws InvalidInputException field {@code size} over the configured maximum, {@code path} for
   *     the reserved marker name, {@code files} past the maximum files per deploy
   * @throws DeployStateException when the deploy is already finalized
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
          Deploy deploy = requireDeploy(op, site, deployId);
          if (deploy.isActive()) {
            throw new DeployStateException(
                site, deployId, DeployState.ACTIVE, "it is finalized; uploads go to a new deploy");
          }
          uploads.admit(site, deployId, path, () -> countUploaded(site, deployId));
          // The stream can be read once only, so the put itself is not retried.
          return blobs.put(
              BlobLayout.deploy(site, deployId).resolve(path.value()), data, size, metadata);
        });
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
   * and is pending; the manifest is not empty; it contains {@code index.html}; every file is in the
   * blob store ({@link ManifestIncompleteException} lists the missing). Then the marker is written,
   * then one metadata command makes the deploy ACTIVE, moves the alias by CAS, releases the
   * previous target and appends {@code alias.changed} and {@code site.changed} atomically.
   * Re-running a finalize that succeeded returns the same result (V9).
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
          checkManifest(op, site, deployId, manifest);
          Marker marker =
              Marker.of(
                  site, deployId, deploy.sha(), operations.clock().instant(), manifest.size());
          byte[] json = marker.toJson();
          retrier.run(
              op,
              () ->
                  blobs.put(
                      BlobLayout.marker(site, deployId),
                      new ByteArrayInputStream(json),
                      json.length,
                      BlobMetadata.ofType("application/json")));
          Alias moved =
              retrier.call(op, () -> metadata.activate(site, deployId, alias, expect, actor));
          uploads.forget(site, deployId);
          return new Finalized(requireDeploy(op, site, deployId), moved);
        });
  }

  private void checkManifest(Operation op, SiteId site, DeployId deployId, Manifest manifest) {
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
    Set<String> present = new HashSet<>();
    var prefix = BlobLayout.deploy(site, deployId);
    retrier
        .call(op, () -> blobs.listAll(prefix))
        .forEach(i -> present.add(i.key().relativeTo(prefix)));
    List<UploadPath> missing =
        manifest.files().stream().filter(p -> !present.contains(p.value())).toList();
    if (!missing.isEmpty()) {
      throw new ManifestIncompleteException(missing);
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
                      BlobLayout.deploy(site, deployId), BlobLayout.trash(site, deployId)));
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
                      BlobLayout.trash(site, deployId), BlobLayout.deploy(site, deployId)));
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
   * first time a deploy is seen, so the files-per-deploy limit costs no listing per upload. Bounded
   * to the most recently used deploys; finalize re-checks the manifest size authoritatively.
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

    void admit(SiteId site, DeployId id, UploadPath path, Supplier<Set<String>> seed) {
      String deployKey = site + "/" + id;
      String key = BlobLayout.deploy(site, id).resolve(path.value()).value();
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
        if (!seen.contains(key) && seen.size() >= max) {
          throw new InvalidInputException(
              "files", "deploy " + id + " already holds " + max + " files, the maximum");
        }
        seen.add(key);
      }
    }

    void forget(SiteId site, DeployId id) {
      synchronized (paths) {
        paths.remove(site + "/" + id);
      }
    }
  }
}
