package dev.durabledeploy.spi.metadata;

/** Where a registered site is in its lifecycle. */
public enum SiteState {
  /** Deploys, uploads and alias moves are accepted; the alias projection serves it. */
  ACTIVE,
  /**
   * Soft-deleted: its bytes are in the site trash ({@code _trash-site/<site>/}), every command but
   * a restore or a purge is refused, and it can be restored until {@link Site#purgeAfter()}.
   */
  TRASHED,
  /** Being removed for good: its rows are gone and its bytes are being deleted. */
  PURGING
}
