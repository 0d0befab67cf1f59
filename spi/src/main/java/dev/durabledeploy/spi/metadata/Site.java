package dev.durabledeploy.spi.metadata;

import dev.durabledeploy.spi.SiteId;
import java.time.Instant;
import java.util.Objects;

/**
 * A site's registry record: who it is for, and where it is in its lifecycle.
 *
 * @param id the site's slug
 * @param profile its display name, owner and labels
 * @param state where it is in its lifecycle
 * @param createdAt when it was registered
 * @param updatedAt when its profile or state last changed
 * @param purgeAfter for a {@link SiteState#TRASHED} site, when its recovery window closes and the
 *     tombstone purge deletes it for good; {@code null} in every other state
 * @param version 1 when registered, one more on every change: a host's cache applies a {@code
 *     site.*} event only if its version is newer than what it holds
 */
public record Site(
    SiteId id,
    SiteProfile profile,
    SiteState state,
    Instant createdAt,
    Instant updatedAt,
    Instant purgeAfter,
    long version) {

  public Site {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(profile, "profile");
    Objects.requireNonNull(state, "state");
    Objects.requireNonNull(createdAt, "createdAt");
    Objects.requireNonNull(updatedAt, "updatedAt");
    if ((state == SiteState.TRASHED) != (purgeAfter != null)) {
      throw new IllegalArgumentException(
          "purgeAfter is set exactly when the site is TRASHED, not " + state);
    }
    if (version < 1) {
      throw new IllegalArgumentException("version starts at 1, not " + version);
    }
  }

  public boolean isActive() {
    return state == SiteState.ACTIVE;
  }

  /** This record moved to {@code state} at {@code now}, one version on. */
  public Site withState(SiteState state, Instant now, Instant purgeAfter) {
    return new Site(id, profile, state, createdAt, now, purgeAfter, version + 1);
  }

  /** This record with {@code profile} at {@code now}, one version on. */
  public Site withProfile(SiteProfile profile, Instant now) {
    return new Site(id, profile, state, createdAt, now, purgeAfter, version + 1);
  }
}
