package dev.durabledeploy.spi;

import java.util.Set;

/**
 * The actions an {@link Authorizer} is asked about, one per kind of mutation. The strings are
 * stable: a host may keep them in its own policy tables, and {@link #ALL} lets it check that every
 * name in such a table is one the library asks about.
 */
public final class Actions {

  /** {@code DeployService.init}. */
  public static final String DEPLOY_INIT = "deploy.init";

  /** {@code DeployService.upload}. */
  public static final String DEPLOY_UPLOAD = "deploy.upload";

  /** {@code DeployService.finalizeDeploy} (which also moves its alias). */
  public static final String DEPLOY_FINALIZE = "deploy.finalize";

  /** {@code DeployService.promote} and {@code promoteAlias}. */
  public static final String ALIAS_PROMOTE = "alias.promote";

  /** {@code DeployService.rollback}, both forms. */
  public static final String ALIAS_ROLLBACK = "alias.rollback";

  /** {@code DeployService.delete} (a soft delete into the trash). */
  public static final String DEPLOY_DELETE = "deploy.delete";

  /** {@code DeployService.restore} of a deleted deploy. */
  public static final String DEPLOY_RESTORE = "deploy.restore";

  /**
   * {@code DeployService.purgeSiteNow} (and {@code SiteRegistry.purge}): a site's rows and bytes
   * removed for good, now.
   */
  public static final String SITE_PURGE = "site.purge";

  /** {@code DeployService.restoreSite}: a trashed site brought back within its recovery window. */
  public static final String SITE_RESTORE = "site.restore";

  /**
   * {@code SiteRegistry.register}; also {@code SiteRegistry.importExisting} across all sites. A
   * first deploy that registers its site is checked as {@link #DEPLOY_INIT}.
   */
  public static final String SITE_REGISTER = "site.register";

  /** {@code SiteRegistry.update}: a site's profile replaced. */
  public static final String SITE_UPDATE = "site.update";

  /**
   * {@code DeployService.purgeSite} (and {@code SiteRegistry.delete}): a site moved to trash,
   * restorable within its recovery window.
   */
  public static final String SITE_DELETE = "site.delete";

  /** {@code SiteGc.run} with {@code dryRun} false: trashes deploys retention no longer keeps. */
  public static final String GC_RUN = "gc.run";

  /** {@code Reconciler.reconcile} with {@code apply} true: repairs drift. */
  public static final String RECONCILE_APPLY = "reconcile.apply";

  /** {@code Backfill.site} and {@code Backfill.all}: index rows adopted from the bucket. */
  public static final String BACKFILL_RUN = "backfill.run";

  /** {@code TombstonePurge.run}: expired deleted deploys removed for good, across every site. */
  public static final String TOMBSTONE_PURGE = "tombstone.purge";

  /** {@code OutboxDeadLetters.retry}. */
  public static final String OUTBOX_DEAD_LETTER_RETRY = "outbox.dead-letter.retry";

  /** {@code OutboxDeadLetters.discard}. */
  public static final String OUTBOX_DEAD_LETTER_DISCARD = "outbox.dead-letter.discard";

  /** Every action above. */
  public static final Set<String> ALL =
      Set.of(
          DEPLOY_INIT,
          DEPLOY_UPLOAD,
          DEPLOY_FINALIZE,
          ALIAS_PROMOTE,
          ALIAS_ROLLBACK,
          DEPLOY_DELETE,
          DEPLOY_RESTORE,
          SITE_PURGE,
          SITE_RESTORE,
          SITE_REGISTER,
          SITE_UPDATE,
          SITE_DELETE,
          GC_RUN,
          RECONCILE_APPLY,
          BACKFILL_RUN,
          TOMBSTONE_PURGE,
          OUTBOX_DEAD_LETTER_RETRY,
          OUTBOX_DEAD_LETTER_DISCARD);

  private Actions() {}
}
