package dev.durabledeploy.spi.metadata;

import java.time.Instant;

/**
 * What a site deletion removed: for a soft delete (the default {@code purgeSite}), what went to the
 * site's trash and until when it can be restored; for a purge for good, what was removed. All zero
 * when the site was already gone.
 *
 * @param restorableUntil when the trashed site's recovery window closes; {@code null} for a purge
 *     for good, or when there was nothing to delete
 */
public record SiteDeletion(int deploys, int aliases, int tombstones, Instant restorableUntil) {

  /** A deletion for good. */
  public SiteDeletion(int deploys, int aliases, int tombstones) {
    this(deploys, aliases, tombstones, null);
  }

  public boolean removedAnything() {
    return deploys + aliases + tombstones > 0;
  }

  /** This deletion, restorable until {@code until}. */
  public SiteDeletion restorableUntil(Instant until) {
    return new SiteDeletion(deploys, aliases, tombstones, until);
  }
}
