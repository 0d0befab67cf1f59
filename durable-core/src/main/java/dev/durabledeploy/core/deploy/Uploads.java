package dev.durabledeploy.core.deploy;

import dev.durabledeploy.core.DeployOptions;
import dev.durabledeploy.core.events.Operations.Operation;
import dev.durabledeploy.core.retry.Retrier;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.Store;
import dev.durabledeploy.spi.UploadPath;
import dev.durabledeploy.spi.blob.BlobExistsException;
import dev.durabledeploy.spi.blob.BlobInfo;
import dev.durabledeploy.spi.blob.BlobKey;
import dev.durabledeploy.spi.blob.BlobMetadata;
import dev.durabledeploy.spi.blob.BlobStore;
import dev.durabledeploy.spi.exception.DeployNotFoundException;
import dev.durabledeploy.spi.exception.DeployStateException;
import dev.durabledeploy.spi.exception.InvalidInputException;
import dev.durabledeploy.spi.exception.SiteLockLostException;
import dev.durabledeploy.spi.lock.SiteLock;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.spi.metadata.DeployState;
import dev.durabledeploy.spi.metadata.MetadataStore;
import java.io.InputStream;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * The upload of one file into a pending deploy: admission against the files-per-deploy counter, a
 * create-only write for a new path (no lock; {@link Settlement} decides when the deploy stopped
 * being pending meanwhile) and a replacement under the site lock for a path that exists (see {@link
 * DeployService}'s class description).
 */
final class Uploads {

  private final Store store;
  private final MetadataStore metadata;
  private final BlobStore blobs;
  private final Retrier retrier;
  private final DeployOptions options;
  private final UploadCounter uploads;
  private final Settlement settlement;
  private final DeployReads reads;

  Uploads(
      Store store,
      BlobStore blobs,
      Retrier retrier,
      DeployOptions options,
      UploadCounter uploads,
      Settlement settlement) {
    this.store = store;
    this.metadata = store.metadata();
    this.blobs = blobs;
    this.retrier = retrier;
    this.options = options;
    this.uploads = uploads;
    this.settlement = settlement;
    this.reads = new DeployReads(metadata);
  }

  /** The upload's steps, run as its operation {@code op} (no lock: see the class description). */
  BlobInfo upload(
      Operation op,
      SiteId site,
      DeployId deployId,
      UploadPath path,
      InputStream data,
      long size,
      BlobMetadata metadata) {
    // The early check: no byte is sent into a deploy that cannot take it, whichever host sealed,
    // deleted or purged it. A read that began after this call, shared with the uploads of this
    // deploy that ask at the same time (DeployReads), so concurrent uploads cost one read. What
    // decides is still the fresh read after the write: a seal can commit between the two.
    requireUploadable(
        retrier
            .call(op, () -> reads.fresh(site, deployId))
            .deploy()
            .orElseThrow(() -> new DeployNotFoundException(site, deployId)));
    BlobKey key = BlobLayout.deploy(site, deployId).resolve(path.value());
    boolean known = uploads.admit(site, deployId, key, () -> countUploaded(op, site, deployId));
    if (known || !lockFreeUploads()) {
      return replace(op, site, deployId, key, data, size, metadata);
    }
    return create(op, site, deployId, path, key, data, size, metadata);
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
      throw settlement.afterFailedCreate(op, site, deployId, path, key, maybeStored);
    }
    uploads.stored(site, deployId, created);
    // A read that began after the write ended, shared with the uploads of this deploy that wait
    // for one at the same time (DeployReads).
    DeployReads.Read now = retrier.call(op, () -> reads.fresh(site, deployId));
    if (now.deploy().isPresent() && now.deploy().get().isPending()) {
      // Read after the write: a seal, delete or purge committed later, and sees the file.
      return created;
    }
    Settlement.Settled settled = settlement.settle(op, site, deployId, path, key);
    return switch (settled.verdict()) {
      case KEPT -> created;
      case WITHDRAWN -> throw Settlement.withdrawn(site, deployId, settled.deploy());
      case UNDECIDED -> throw Settlement.unsettled(site, deployId, path, settled.deploy());
    };
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
        uploads.stored(site, deployId, written);
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

  private Deploy requireDeploy(Operation op, SiteId site, DeployId deployId) {
    return LiveDeploys.require(retrier, metadata, op, site, deployId);
  }
}
