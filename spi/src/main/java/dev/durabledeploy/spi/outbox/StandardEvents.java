package dev.durabledeploy.spi.outbox;

import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import java.util.Map;

/**
 * The events the metadata commands append, built in one place so every store writes exactly the
 * same type and payload (the TCK compares them). Payload keys are the {@code KEY_*} constants.
 */
public final class StandardEvents {

  /** Something about the site's deploys or aliases changed; GC and caches listen. */
  public static final String SITE_CHANGED = "site.changed";

  /** An alias moved, was created or was deleted (then {@link #KEY_DEPLOY_ID} is empty). */
  public static final String ALIAS_CHANGED = "alias.changed";

  /** A deploy became a tombstone. */
  public static final String DEPLOY_DELETED = "deploy.deleted";

  /** A tombstone became a deploy again. */
  public static final String DEPLOY_RESTORED = "deploy.restored";

  /** A tombstone was purged for good. */
  public static final String DEPLOY_PURGED = "deploy.purged";

  /** Every row of the site was removed: it was purged for good. */
  public static final String SITE_DELETED = "site.deleted";

  /** A site was registered (by a host, on its first deploy, or by an import). */
  public static final String SITE_REGISTERED = "site.registered";

  /**
   * A site's record changed: its profile, or its state ({@link #KEY_STATE}: {@code trashed}, or
   * {@code active} again after a restore). A purge for good announces {@link #SITE_DELETED}.
   */
  public static final String SITE_UPDATED = "site.updated";

  public static final String KEY_SITE = "site";
  public static final String KEY_ALIAS = "alias";
  public static final String KEY_DEPLOY_ID = "deployId";
  public static final String KEY_PREVIOUS = "previous";
  public static final String KEY_VERSION = "version";
  public static final String KEY_CAUSE = "cause";
  public static final String KEY_STATE = "state";

  private StandardEvents() {}

  /**
   * {@code site.changed}.
   *
   * @param cause the audit action that changed it, e.g. {@code alias.move}
   */
  public static NewEvent siteChanged(SiteId site, String cause) {
    return new NewEvent(site, SITE_CHANGED, Map.of(KEY_SITE, site.value(), KEY_CAUSE, cause));
  }

  /**
   * {@code alias.changed}.
   *
   * @param target the new target, or {@code null} when the alias was deleted
   * @param previous the old target, or {@code null} when the alias is new
   */
  public static NewEvent aliasChanged(
      SiteId site, AliasName alias, DeployId target, long version, DeployId previous) {
    return new NewEvent(
        site,
        ALIAS_CHANGED,
        Map.of(
            KEY_SITE, site.value(),
            KEY_ALIAS, alias.value(),
            KEY_DEPLOY_ID, target == null ? "" : target.value(),
            KEY_VERSION, Long.toString(version),
            KEY_PREVIOUS, previous == null ? "" : previous.value()));
  }

  /** {@code deploy.deleted}, {@code deploy.restored} or {@code deploy.purged}. */
  public static NewEvent deployEvent(String type, SiteId site, DeployId deployId) {
    if (!type.equals(DEPLOY_DELETED)
        && !type.equals(DEPLOY_RESTORED)
        && !type.equals(DEPLOY_PURGED)) {
      throw new IllegalArgumentException("not a deploy event type: " + type);
    }
    return new NewEvent(
        site, type, Map.of(KEY_SITE, site.value(), KEY_DEPLOY_ID, deployId.value()));
  }

  /** {@code site.deleted}. */
  /**
   * {@code site.registered} or {@code site.updated}: the site, its state (lowercase) and its record
   * version, so a follower applies only newer records.
   */
  public static NewEvent siteRecord(String type, dev.durabledeploy.spi.metadata.Site record) {
    if (!SITE_REGISTERED.equals(type) && !SITE_UPDATED.equals(type)) {
      throw new IllegalArgumentException("not a site record event: " + type);
    }
    return new NewEvent(
        record.id(),
        type,
        Map.of(
            KEY_SITE,
            record.id().value(),
            KEY_STATE,
            record.state().name().toLowerCase(java.util.Locale.ROOT),
            KEY_VERSION,
            Long.toString(record.version())));
  }

  public static NewEvent siteDeleted(SiteId site) {
    return new NewEvent(site, SITE_DELETED, Map.of(KEY_SITE, site.value()));
  }
}
