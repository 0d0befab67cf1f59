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
 * @param releasedAt the last time an alias moved away from it, or {@code null} if never (DESIGN.md
 *     V4 keeps it for the released-alias TTL after that)
 */
public record Deploy(
    SiteId site,
    DeployId id,
    String sha,
    DeployState state,
    Instant createdAt,
    Instant finalizedAt,
    Instant releasedAt) {

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

  public boolean isActive() {
    return state == DeployState.ACTIVE;
  }

  /** Whether uploads may still go into it ({@link DeployState#PENDING}). */
  public boolean isPending() {
    return state == DeployState.PENDING;
  }
}
