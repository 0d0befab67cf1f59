package dev.durabledeploy.core.deploy;

import dev.durabledeploy.core.events.Operations.Operation;
import dev.durabledeploy.core.metadata.MetadataCommands;
import dev.durabledeploy.core.retry.Retrier;
import dev.durabledeploy.spi.Actor;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.blob.BlobContent;
import dev.durabledeploy.spi.blob.BlobInfo;
import dev.durabledeploy.spi.blob.BlobKey;
import dev.durabledeploy.spi.blob.BlobPage;
import dev.durabledeploy.spi.blob.BlobPrefix;
import dev.durabledeploy.spi.blob.BlobStore;
import dev.durabledeploy.spi.exception.DeployBytesMissingException;
import dev.durabledeploy.spi.exception.DeployStateException;
import dev.durabledeploy.spi.exception.InvalidInputException;
import dev.durabledeploy.spi.metadata.Alias;
import dev.durabledeploy.spi.metadata.AliasExpectation;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.spi.metadata.DeployState;
import dev.durabledeploy.spi.metadata.MetadataStore;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * The alias moves under the site lock that {@link DeployService} takes: promote, promote from
 * another alias, rollback. Each is one compare-and-set command (E2); the actor is passed per call.
 *
 * <p><b>Preflight.</b> Before the compare-and-set, a move checks that the target's bytes are still
 * there, so drift (a lost object, a prefix moved by hand) is refused with {@link
 * DeployBytesMissingException} instead of pointing production at a broken deploy: the marker must
 * exist, parse and name the deploy, and one listing of the deploy's prefix must hold every file the
 * marker recorded (a marker written before markers recorded files: at least as many files as it
 * counted). A listing, not a stat of each file: it costs one request per 1,000 objects (20 for a
 * deploy of 20,000 files, the same listing finalize makes) where stats cost one each, and it runs
 * under the site lock. What it does not check is content: a file of the right path with other bytes
 * is the reconciler's {@code CONTENT_CHANGED}. The check and the move are not one atom, but every
 * saga that removes a deploy's bytes takes the same site lock first (E1), so only something outside
 * the library can remove them in between.
 */
final class AliasMoves {

  /** Objects per page of the preflight's listing. */
  private static final int PAGE = 1000;

  private final MetadataStore metadata;
  private final MetadataCommands commands;
  private final BlobStore blobs;
  private final Retrier retrier;

  AliasMoves(MetadataStore metadata, MetadataCommands commands, BlobStore blobs, Retrier retrier) {
    this.metadata = metadata;
    this.commands = commands;
    this.blobs = blobs;
    this.retrier = retrier;
  }

  /** Points {@code to} at the deploy {@code from} targets. */
  Alias promoteAlias(
      Operation op,
      SiteId site,
      AliasName from,
      AliasName to,
      AliasExpectation expect,
      Actor actor) {
    Alias source =
        retrier
            .call(op, () -> metadata.findAlias(site, from))
            .orElseThrow(
                () -> new InvalidInputException("from", "alias '" + from + "' does not exist"));
    return move(op, site, to, source.target(), expect, actor);
  }

  /** Points {@code alias} at the newest active deploy older than its current target. */
  Alias rollback(Operation op, SiteId site, AliasName alias, Actor actor) {
    Alias current =
        retrier
            .call(op, () -> metadata.findAlias(site, alias))
            .orElseThrow(
                () -> new InvalidInputException("alias", "alias '" + alias + "' does not exist"));
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
    return move(op, site, alias, previous.id(), AliasExpectation.version(current.version()), actor);
  }

  /**
   * One CAS move. If a transient failure hid a committed first attempt, the retry reports drift
   * whose current alias is the caller's own target: honest, and the caller can check it. Guessing
   * "that was us" instead would count another writer's identical move as ours (a lost update).
   */
  Alias move(
      Operation op,
      SiteId site,
      AliasName alias,
      DeployId target,
      AliasExpectation expect,
      Actor actor) {
    // A trashed site's bytes are in its trash: refused as trashed, not as a deploy that lost them.
    retrier.run(op, () -> commands.requireActiveSite(site, "an alias move"));
    requireBytes(op, site, target);
    return retrier.call(op, () -> commands.moveAlias(site, alias, target, expect, actor));
  }

  /** The preflight (see the class comment). */
  private void requireBytes(Operation op, SiteId site, DeployId target) {
    Optional<Deploy> row = retrier.call(op, () -> metadata.findDeploy(site, target));
    if (row.isEmpty() || !row.get().isActive()) {
      return; // the command refuses it with its own exception: not found, or not finalized
    }
    Optional<byte[]> json =
        retrier.call(
            op,
            () ->
                blobs
                    .get(BlobLayout.marker(site, target))
                    .map(
                        c -> {
                          try (BlobContent content = c) {
                            return content.readAllBytes();
                          }
                        }));
    if (json.isEmpty()) {
      throw new DeployBytesMissingException(
          site, target, List.of(BlobLayout.MARKER_NAME), "its marker is missing");
    }
    Marker marker;
    try {
      marker = Marker.parse(json.get());
    } catch (IllegalArgumentException unreadable) {
      throw new DeployBytesMissingException(
          site, target, List.of(BlobLayout.MARKER_NAME), "its marker is unreadable");
    }
    if (!marker.site().equals(site.value()) || !marker.deployId().equals(target.value())) {
      throw new DeployBytesMissingException(
          site,
          target,
          List.of(BlobLayout.MARKER_NAME),
          "its marker names deploy '" + marker.deployId() + "' of site '" + marker.site() + "'");
    }
    Set<String> present = retrier.call(op, () -> files(site, target));
    if (!marker.verified().isEmpty()) {
      List<String> missing =
          marker.verified().keySet().stream().filter(p -> !present.contains(p)).toList();
      if (!missing.isEmpty()) {
        throw new DeployBytesMissingException(
            site,
            target,
            missing,
            missing.size() + " of its " + marker.verified().size() + " files are missing");
      }
    } else if (present.size() < marker.files()) {
      throw new DeployBytesMissingException(
          site,
          target,
          List.of(),
          (marker.files() - present.size())
              + " of its "
              + marker.files()
              + " files are missing (its marker does not name them)");
    }
  }

  /** The paths of the deploy's files, relative to its prefix, the marker excluded. */
  private Set<String> files(SiteId site, DeployId id) {
    BlobPrefix prefix = BlobLayout.deploy(site, id);
    Set<String> paths = new HashSet<>();
    BlobKey after = null;
    do {
      BlobPage page = blobs.list(prefix, after, PAGE);
      for (BlobInfo info : page.items()) {
        paths.add(info.key().relativeTo(prefix));
      }
      after = page.next();
    } while (after != null);
    paths.remove(BlobLayout.MARKER_NAME);
    return paths;
  }
}
