package dev.durabledeploy.core.purge;

import dev.durabledeploy.core.deploy.BlobLayout;
import dev.durabledeploy.core.events.Operations.Operation;
import dev.durabledeploy.core.metadata.MetadataCommands;
import dev.durabledeploy.core.retry.Retrier;
import dev.durabledeploy.spi.Actor;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.blob.BlobPrefix;
import dev.durabledeploy.spi.blob.BlobStore;
import dev.durabledeploy.spi.metadata.MetadataStore;
import dev.durabledeploy.spi.metadata.Site;
import dev.durabledeploy.spi.metadata.SiteDeletion;
import java.time.Duration;
import java.util.function.BiConsumer;

/**
 * A site deletion you can undo. Trashing records it first ({@link MetadataCommands#trashSite}: the
 * record becomes TRASHED, which is the site's tombstone, and its pending deploys go), then deletes
 * the alias projection (so the serve plane stops serving it; a restore projects it again from the
 * rows), moves everything else under {@code <site>/} to {@link BlobLayout#siteTrash} and deletes
 * the pending deploys' bytes there. A restore records it first too (ACTIVE again), then moves the
 * bytes back. The record is the truth and the bytes follow it, so a crash between the two steps
 * leaves a state whose repair is plain: {@link #finish} moves the bytes to where the record says
 * they belong (the reconciler calls it, and so does a repeated trash or restore). After the
 * recovery window the tombstone purge deletes the site for good ({@link SitePurge}).
 *
 * <p>Every method expects its caller to hold the site's lock.
 */
public final class SiteTrash {

  private final MetadataCommands commands;
  private final BlobStore blobs;
  private final Retrier retrier;
  private final BiConsumer<SiteId, DeployId> forgetUploads;

  /**
   * @param forgetUploads called for each abandoned pending deploy, so in-process upload bookkeeping
   *     forgets it
   */
  public SiteTrash(
      MetadataStore metadata,
      BlobStore blobs,
      Retrier retrier,
      BiConsumer<SiteId, DeployId> forgetUploads) {
    this.commands = new MetadataCommands(metadata);
    this.blobs = blobs;
    this.retrier = retrier;
    this.forgetUploads = forgetUploads;
  }

  /**
   * The record (TRASHED), then the alias projection deleted (it is derived from the rows, and a
   * restore projects it again), then everything else under {@code <site>/} moved to the site trash,
   * then the abandoned pending deploys' bytes deleted there. Moved before deleted: an upload whose
   * write lands before the move has it moved along and deleted with its deploy; one that lands
   * after finds its deploy gone and withdraws it from the live prefix itself.
   */
  public SiteDeletion trash(Operation op, SiteId site, Duration recoveryWindow, Actor actor) {
    // Anywhere the site has bytes counts: its live prefix, a deploy trash whose tombstones are
    // gone, a site trash whose record is gone. Registered TRASHED, they expire with the record
    // (the purge for good deletes all three); left unregistered, nothing would ever delete them.
    boolean bucketHasBytes =
        BlobLayout.bytesOf(site).stream()
            .anyMatch(
                prefix -> !retrier.call(op, () -> blobs.list(prefix, null, 1)).items().isEmpty());
    MetadataCommands.Trashed trashed =
        retrier.call(op, () -> commands.trashSite(site, recoveryWindow, actor, bucketHasBytes));
    if (trashed.site() == null) {
      return trashed.trashed();
    }
    retrier.run(op, () -> blobs.deletePrefix(BlobLayout.aliases(site), op.fence()));
    moveToTrash(op, site);
    for (DeployId id : trashed.abandoned()) {
      retrier.run(
          op,
          () ->
              blobs.deletePrefix(
                  BlobLayout.siteTrash(site).child("deploys").child(id.value()), op.fence()));
      forgetUploads.accept(site, id);
    }
    return trashed.trashed();
  }

  /** The record (ACTIVE again), then the bytes back from the site trash. */
  public Site restore(Operation op, SiteId site, Actor actor) {
    Site restored = retrier.call(op, () -> commands.restoreSite(site, actor));
    moveBack(op, site);
    return restored;
  }

  /**
   * Moves the site's bytes to where {@code record} (read under the site's lock) says they belong,
   * finishing a trash or a restore that a crash interrupted. Returns whether anything was out of
   * place. A purging site is its purge's business: nothing is moved.
   */
  public boolean finish(Operation op, Site record) {
    return switch (record.state()) {
      case PURGING -> false;
      case TRASHED -> moveToTrash(op, record.id()) > 0;
      case ACTIVE -> moveBack(op, record.id()) > 0;
    };
  }

  /**
   * Whether the site's bytes are out of place for {@code record}: a trashed site with bytes under
   * {@code <site>/}, or an active one with bytes in the site trash.
   */
  public boolean unfinished(Operation op, Site record) {
    BlobPrefix misplaced =
        switch (record.state()) {
          case PURGING -> null;
          case TRASHED -> BlobLayout.site(record.id());
          case ACTIVE -> BlobLayout.siteTrash(record.id());
        };
    return misplaced != null
        && !retrier.call(op, () -> blobs.list(misplaced, null, 1)).items().isEmpty();
  }

  private long moveToTrash(Operation op, SiteId site) {
    return retrier.call(
        op, () -> blobs.movePrefix(BlobLayout.site(site), BlobLayout.siteTrash(site), op.fence()));
  }

  private long moveBack(Operation op, SiteId site) {
    return retrier.call(
        op, () -> blobs.movePrefix(BlobLayout.siteTrash(site), BlobLayout.site(site), op.fence()));
  }
}
