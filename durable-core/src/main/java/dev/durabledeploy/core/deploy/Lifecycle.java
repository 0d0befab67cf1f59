package dev.durabledeploy.core.deploy;

import dev.durabledeploy.core.DeployOptions;
import dev.durabledeploy.core.events.Operations;
import dev.durabledeploy.core.events.Operations.Operation;
import dev.durabledeploy.core.metadata.MetadataCommands;
import dev.durabledeploy.core.purge.SitePurge;
import dev.durabledeploy.core.retry.Retrier;
import dev.durabledeploy.spi.Actor;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.blob.BlobStore;
import dev.durabledeploy.spi.exception.TombstoneExpiredException;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.spi.metadata.MetadataStore;
import dev.durabledeploy.spi.metadata.Tombstone;
import java.util.Optional;
import java.util.random.RandomGenerator;

/**
 * A deploy's start, soft delete and restore, under the site lock that {@link DeployService} takes;
 * the actor is passed per call.
 */
final class Lifecycle {

  private final MetadataStore metadata;
  private final MetadataCommands commands;
  private final BlobStore blobs;
  private final Operations operations;
  private final Retrier retrier;
  private final DeployOptions options;
  private final RandomGenerator random;
  private final UploadCounter uploadCounter;
  private final SitePurge sitePurge;

  Lifecycle(
      MetadataStore metadata,
      MetadataCommands commands,
      BlobStore blobs,
      Operations operations,
      Retrier retrier,
      DeployOptions options,
      RandomGenerator random,
      UploadCounter uploadCounter,
      SitePurge sitePurge) {
    this.metadata = metadata;
    this.commands = commands;
    this.blobs = blobs;
    this.operations = operations;
    this.retrier = retrier;
    this.options = options;
    this.random = random;
    this.uploadCounter = uploadCounter;
    this.sitePurge = sitePurge;
  }

  /** Starts a PENDING deploy of {@code sha} (or none) with a fresh id. */
  Deploy init(Operation op, SiteId site, String sha, Actor actor) {
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
    return retrier.call(
        op,
        () -> commands.createPending(site, chosen, sha, actor, !options.requireRegisteredSites()));
  }

  private boolean taken(Operation op, SiteId site, DeployId id) {
    return retrier.call(
        op,
        () ->
            metadata.findDeploy(site, id).isPresent()
                || metadata.findTombstone(site, id).isPresent());
  }

  /** The tombstone first, then the bytes to trash (V6). */
  Tombstone delete(Operation op, SiteId site, DeployId deployId, Actor actor) {
    Tombstone tombstone =
        retrier.call(op, () -> commands.tombstone(site, deployId, options.recoveryWindow(), actor));
    retrier.run(
        op,
        () ->
            blobs.movePrefix(
                BlobLayout.deploy(site, deployId), BlobLayout.trash(site, deployId), op.fence()));
    uploadCounter.forget(site, deployId);
    return tombstone;
  }

  /** The bytes back from trash first, then the tombstone removed. */
  Deploy restore(Operation op, SiteId site, DeployId deployId, Actor actor) {
    Optional<Tombstone> tombstone = retrier.call(op, () -> metadata.findTombstone(site, deployId));
    if (tombstone.isEmpty()) {
      return requireDeploy(op, site, deployId);
    }
    if (tombstone.get().isExpired(operations.clock().instant())) {
      throw new TombstoneExpiredException(site, deployId, tombstone.get().expiresAt());
    }
    // Before the bytes move: a trashed site's deploy must not come back into its live prefix.
    retrier.run(op, () -> commands.requireActiveSite(site, "a deploy restore"));
    retrier.run(
        op,
        () ->
            blobs.movePrefix(
                BlobLayout.trash(site, deployId), BlobLayout.deploy(site, deployId), op.fence()));
    return retrier.call(op, () -> commands.restore(site, deployId, actor));
  }

  private Deploy requireDeploy(Operation op, SiteId site, DeployId deployId) {
    return LiveDeploys.require(retrier, metadata, op, site, deployId);
  }
}
