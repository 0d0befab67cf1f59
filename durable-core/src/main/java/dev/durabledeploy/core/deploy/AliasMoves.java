package dev.durabledeploy.core.deploy;

import dev.durabledeploy.core.events.Operations.Operation;
import dev.durabledeploy.core.metadata.MetadataCommands;
import dev.durabledeploy.core.retry.Retrier;
import dev.durabledeploy.spi.Actor;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.exception.DeployStateException;
import dev.durabledeploy.spi.exception.InvalidInputException;
import dev.durabledeploy.spi.metadata.Alias;
import dev.durabledeploy.spi.metadata.AliasExpectation;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.spi.metadata.DeployState;
import dev.durabledeploy.spi.metadata.MetadataStore;
import java.util.Comparator;

/**
 * The alias moves under the site lock that {@link DeployService} takes: promote, promote from
 * another alias, rollback. Each is one compare-and-set command (E2); the actor is passed per call.
 */
final class AliasMoves {

  private final MetadataStore metadata;
  private final MetadataCommands commands;
  private final Retrier retrier;

  AliasMoves(MetadataStore metadata, MetadataCommands commands, Retrier retrier) {
    this.metadata = metadata;
    this.commands = commands;
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
    return retrier.call(op, () -> commands.moveAlias(site, alias, target, expect, actor));
  }
}
