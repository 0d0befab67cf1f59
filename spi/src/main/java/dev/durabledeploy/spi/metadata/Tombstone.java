package dev.durabledeploy.spi.metadata;

import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import java.time.Instant;
import java.util.Objects;

/**
 * The record of a soft delete: the deploy row as it was, when it was deleted and until when it can
 * be restored. Its bytes live under {@code _trash/<site>/<deployId>/} until the purge.
 */
public record Tombstone(Deploy deploy, Instant deletedAt, Instant expiresAt) {

  public Tombstone {
    Objects.requireNonNull(deploy, "deploy");
    Objects.requireNonNull(deletedAt, "deletedAt");
    Objects.requireNonNull(expiresAt, "expiresAt");
  }

  public SiteId site() {
    return deploy.site();
  }

  public DeployId deployId() {
    return deploy.id();
  }

  /** Whether the recovery window has closed at {@code now}. */
  public boolean isExpired(Instant now) {
    return !now.isBefore(expiresAt);
  }
}
