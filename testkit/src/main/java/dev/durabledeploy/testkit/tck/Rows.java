package dev.durabledeploy.testkit.tck;

import dev.durabledeploy.spi.Actor;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.metadata.Alias;
import dev.durabledeploy.spi.metadata.AliasRow;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.spi.metadata.DeployState;
import dev.durabledeploy.spi.metadata.MetadataStore;
import dev.durabledeploy.spi.metadata.RowSelection;
import dev.durabledeploy.spi.metadata.SiteRows;
import dev.durabledeploy.spi.metadata.Tombstone;
import dev.durabledeploy.spi.outbox.StandardEvents;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * Rows for tests that only need them to exist: each helper is one {@link MetadataStore#inSite unit
 * of work} that writes the rows, an audit entry by {@link Actor#SYSTEM} and the event the core's
 * command would append. They make no decisions beyond what a test needs (no alias checks, no
 * expectations); the commands and their rules are {@code durable-core}'s, which store modules and
 * the testkit may not use.
 */
public final class Rows {

  /** The audit actions written, the same as the core's commands write. */
  public static final String ACTION_CREATE = "deploy.create";

  public static final String ACTION_ADOPT = "deploy.adopt";
  public static final String ACTION_ALIAS_MOVE = "alias.move";
  public static final String ACTION_TOMBSTONE = "deploy.tombstone";
  public static final String ACTION_DELETE_SITE = "site.delete";

  private Rows() {}

  /**
   * A PENDING deploy without sha; see {@link #pending(MetadataStore, SiteId, DeployId, String)}.
   */
  public static Deploy pending(MetadataStore metadata, SiteId site, DeployId id) {
    return pending(metadata, site, id, null);
  }

  /**
   * Writes a PENDING deploy created now, audits {@code deploy.create} and emits {@code
   * site.changed}. A live deploy with the id is returned unchanged (nothing written), as a re-run
   * create would.
   *
   * @throws IllegalStateException if the deploy is a tombstone
   */
  public static Deploy pending(MetadataStore metadata, SiteId site, DeployId id, String sha) {
    return metadata.inSite(
        ACTION_CREATE,
        site,
        RowSelection.of(List.of(id), List.of(id)),
        s -> {
          if (s.tombstone(id) != null) {
            throw new IllegalStateException("deploy " + id + " of " + site + " is a tombstone");
          }
          Deploy existing = s.deploy(id);
          if (existing != null) {
            return existing;
          }
          Deploy created = new Deploy(site, id, sha, DeployState.PENDING, s.now(), null, null);
          s.putDeploy(created);
          s.audit(Actor.SYSTEM, ACTION_CREATE, id.value(), null, "pending");
          s.emit(StandardEvents.siteChanged(site, ACTION_CREATE));
          return created;
        });
  }

  /**
   * Writes an ACTIVE deploy that no alias targets (as a backfill would), or activates a pending
   * one; audits {@code deploy.adopt} and emits {@code site.changed}. An active one is returned
   * unchanged.
   */
  public static Deploy active(MetadataStore metadata, SiteId site, DeployId id, String sha) {
    return metadata.inSite(
        ACTION_ADOPT,
        site,
        RowSelection.of(List.of(id), List.of(id)),
        s -> {
          if (s.tombstone(id) != null) {
            throw new IllegalStateException("deploy " + id + " of " + site + " is a tombstone");
          }
          Deploy existing = s.deploy(id);
          if (existing != null && existing.isActive()) {
            return existing;
          }
          Deploy active = activated(s, site, id, sha, existing);
          s.putDeploy(active);
          s.audit(Actor.SYSTEM, ACTION_ADOPT, id.value(), null, "active");
          s.emit(StandardEvents.siteChanged(site, ACTION_ADOPT));
          return active;
        });
  }

  /**
   * Points {@code alias} at {@code target}: the deploy becomes ACTIVE if it is not (created if
   * missing, without sha), the alias's version grows by one (1 for a new alias), the deploy it
   * targeted before gets {@code releasedAt = now}; audits {@code alias.move} and emits {@code
   * alias.changed} and {@code site.changed}. An alias already on the target is returned unchanged.
   *
   * @throws IllegalStateException if the target is a tombstone
   */
  public static Alias alias(MetadataStore metadata, SiteId site, AliasName alias, DeployId target) {
    Objects.requireNonNull(alias, "alias");
    return metadata.inSite(
        ACTION_ALIAS_MOVE,
        site,
        RowSelection.of(List.of(target), List.of(target)),
        s -> {
          if (s.tombstone(target) != null) {
            throw new IllegalStateException("deploy " + target + " of " + site + " is a tombstone");
          }
          AliasRow row = s.aliases().get(alias);
          Deploy deploy = s.deploy(target);
          if (row != null && target.equals(row.target()) && deploy != null) {
            return row.toAlias(site, alias);
          }
          if (deploy == null || !deploy.isActive()) {
            s.putDeploy(activated(s, site, target, null, deploy));
          }
          DeployId previous = row == null ? null : row.target();
          if (previous != null && !previous.equals(target)) {
            Deploy released = s.deploy(previous);
            if (released != null) {
              s.putDeploy(
                  new Deploy(
                      site,
                      previous,
                      released.sha(),
                      released.state(),
                      released.createdAt(),
                      released.finalizedAt(),
                      s.now(),
                      released.restoredAt()));
            }
          }
          long version = row == null ? 1 : row.version() + 1;
          AliasRow moved = new AliasRow(target, version, s.now());
          s.putAlias(alias, moved);
          s.audit(
              Actor.SYSTEM,
              ACTION_ALIAS_MOVE,
              "alias:" + alias.value(),
              previous == null ? null : previous.value(),
              target.value());
          s.emit(StandardEvents.aliasChanged(site, alias, target, version, previous));
          s.emit(StandardEvents.siteChanged(site, ACTION_ALIAS_MOVE));
          return moved.toAlias(site, alias);
        });
  }

  /**
   * Turns the live deploy into a tombstone deleted now and expiring after {@code window}; audits
   * {@code deploy.tombstone} and emits {@code deploy.deleted} and {@code site.changed}. An existing
   * tombstone is returned unchanged. Aliases are not checked (that is the core's rule).
   *
   * @throws IllegalStateException if there is neither a deploy nor a tombstone with the id
   */
  public static Tombstone tombstone(
      MetadataStore metadata, SiteId site, DeployId id, Duration window) {
    Objects.requireNonNull(window, "window");
    return metadata.inSite(
        ACTION_TOMBSTONE,
        site,
        RowSelection.of(List.of(id), List.of(id)),
        s -> {
          Tombstone existing = s.tombstone(id);
          if (existing != null) {
            return existing;
          }
          Deploy deploy = s.deploy(id);
          if (deploy == null) {
            throw new IllegalStateException("no deploy " + id + " on " + site);
          }
          Tombstone tombstone = new Tombstone(deploy, s.now(), s.stored(s.now().plus(window)));
          s.removeDeploy(id);
          s.putTombstone(tombstone);
          s.audit(
              Actor.SYSTEM,
              ACTION_TOMBSTONE,
              id.value(),
              deploy.state().name().toLowerCase(java.util.Locale.ROOT),
              "tombstone until " + tombstone.expiresAt());
          s.emit(StandardEvents.deployEvent(StandardEvents.DEPLOY_DELETED, site, id));
          s.emit(StandardEvents.siteChanged(site, ACTION_TOMBSTONE));
          return tombstone;
        });
  }

  /**
   * Removes every row of the site; when it had any deploy, live alias or tombstone, audits {@code
   * site.delete} and emits {@code site.deleted}.
   *
   * @return whether it removed a deploy, a live alias or a tombstone
   */
  public static boolean deleteSite(MetadataStore metadata, SiteId site) {
    return metadata.inSite(
        ACTION_DELETE_SITE,
        site,
        RowSelection.WHOLE_SITE,
        s -> {
          long live = s.aliases().values().stream().filter(a -> a.target() != null).count();
          boolean content = s.deployCount() > 0 || s.tombstoneCount() > 0 || live > 0;
          if (!content && s.aliases().isEmpty()) {
            return false;
          }
          String removed =
              s.deployCount()
                  + " deploys, "
                  + live
                  + " aliases, "
                  + s.tombstoneCount()
                  + " tombstones";
          s.removeAll();
          if (!content) {
            return false;
          }
          s.audit(Actor.SYSTEM, ACTION_DELETE_SITE, site.value(), removed, null);
          s.emit(StandardEvents.siteDeleted(site));
          return true;
        });
  }

  private static Deploy activated(
      SiteRows s, SiteId site, DeployId id, String sha, Deploy existing) {
    return existing == null
        ? new Deploy(site, id, sha, DeployState.ACTIVE, s.now(), s.now(), null)
        : new Deploy(
            site,
            id,
            existing.sha(),
            DeployState.ACTIVE,
            existing.createdAt(),
            s.now(),
            null,
            existing.restoredAt());
  }
}
