package dev.durabledeploy.spi.metadata;

import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import java.time.Instant;
import java.util.Objects;

/**
 * One row of the deploy index.
 *
 * @param sha the commit the deploy was built from, or {@code null}
 * @param finalizedAt when it became {@link DeployState#ACTIVE}, or {@code null} before
 * @param releasedAt the last time an alias moved away from it, or {@code null} if never
 *     (docs/invariants.md V4 keeps it for the released-alias TTL after that)
 * @param restoredAt the last time it was restored from a tombstone, or {@code null} if never; GC
 *     keeps a restored deploy for its grace period after that, so a restore is not undone by the GC
 *     that the restore itself triggers
 */
public record Deploy(
    SiteId site,
    DeployId id,
    String sha,
    DeployState state,
    Instant createdAt,
    Instant finalizedAt,
    Instant releasedAt,
    Instant restoredAt) {

  public Deploy {
    Objects.requireNonNull(site, "site");
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(state, "state");
    Objects.requireNonNull(createdAt, "createdAt");
    if (sha != null) {
      DeployId.requireSha(sha);
    }
    if (state == DeployState.ACTIVE && finalizedAt == null) {
      throw new IllegalArgumentException("an ACTIVE deploy has a finalizedAt");
    }
  }

  /** A deploy that was never restored ({@code restoredAt} null). */
  public Deploy(
      SiteId site,
      DeployId id,
      String sha,
      DeployState state,
      Instant createdAt,
      Instant finalizedAt,
      Instant releasedAt) {
    this(site, id, sha, state, createdAt, finalizedAt, releasedAt, null);
  }

  public boolean isActive() {
    return state == DeployState.ACTIVE;
  }

  /** Whether uploads may still go into it ({@link DeployState#PENDING}). */
  public boolean isPending() {
    return state == DeployState.PENDING;
  }
}
