package dev.durabledeploy.core.deploy;

import dev.durabledeploy.core.DeployOptions;
import dev.durabledeploy.core.events.Operations;
import dev.durabledeploy.core.events.Operations.Operation;
import dev.durabledeploy.core.retry.Retrier;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.Store;
import dev.durabledeploy.spi.UploadPath;
import dev.durabledeploy.spi.blob.BlobContent;
import dev.durabledeploy.spi.blob.BlobKey;
import dev.durabledeploy.spi.blob.BlobPrefix;
import dev.durabledeploy.spi.blob.BlobStore;
import dev.durabledeploy.spi.exception.DeployNotFoundException;
import dev.durabledeploy.spi.exception.DeployStateException;
import dev.durabledeploy.spi.exception.DurableDeployException;
import dev.durabledeploy.spi.lock.SiteLock;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.spi.metadata.MetadataStore;
import java.time.Duration;
import java.util.Optional;

/**
 * The verdict on a file an upload created while (or, its create having failed, perhaps while) its
 * deploy stopped being pending: kept, withdrawn, or left undecided for a finalize that has not
 * ended (see {@link DeployService}'s class description).
 */
final class Settlement {

  private final Store store;
  private final MetadataStore metadata;
  private final BlobStore blobs;
  private final Operations operations;
  private final Retrier retrier;
  private final DeployOptions options;
  private final UploadCounter uploads;

  Settlement(
      Store store,
      BlobStore blobs,
      Operations operations,
      Retrier retrier,
      DeployOptions options,
      UploadCounter uploads) {
    this.store = store;
    this.metadata = store.metadata();
    this.blobs = blobs;
    this.operations = operations;
    this.retrier = retrier;
    this.options = options;
    this.uploads = uploads;
  }

  /**
   * The answer to an upload whose create failed in a way that may have stored the object: the
   * create's own failure, unless settling found the deploy was no longer pending and withdrew the
   * file (or could not decide).
   */
  RuntimeException afterFailedCreate(
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

  private static final Duration SETTLE_FIRST_PAUSE = Duration.ofMillis(10);
  private static final Duration SETTLE_MAX_PAUSE = Duration.ofSeconds(1);

  /** What {@link #settle} decided about a file an upload created. */
  enum Verdict {
    /** The file belongs to the deploy: it is pending again, or finalize verified the file. */
    KEPT,
    /** The file was deleted: the deploy was finalized without it, deleted or purged. */
    WITHDRAWN,
    /** Still being finalized at the deadline: the file was left for that finalize to verify. */
    UNDECIDED
  }

  /** A verdict, with the deploy as last read (empty when it was gone). */
  record Settled(Verdict verdict, Optional<Deploy> deploy) {}

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
   *       on {@code lockTimeout}), up to {@link DeployService#SETTLE_TIMEOUT}; still FINALIZING
   *       then (that finalize may have crashed), the file is left: a resumed finalize verifies it.
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
  Settled settle(Operation op, SiteId site, DeployId deployId, UploadPath path, BlobKey key) {
    long deadlineNanos = System.nanoTime() + DeployService.SETTLE_TIMEOUT.toNanos();
    java.time.Instant deadline = operations.clock().instant().plus(DeployService.SETTLE_TIMEOUT);
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

  static DurableDeployException withdrawn(SiteId site, DeployId deployId, Optional<Deploy> deploy) {
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

  static UploadUnsettledException unsettled(
      SiteId site, DeployId deployId, UploadPath path, Optional<Deploy> deploy) {
    return new UploadUnsettledException(
        site, deployId, path, deploy.map(Deploy::state).orElse(null), DeployService.SETTLE_TIMEOUT);
  }
}
