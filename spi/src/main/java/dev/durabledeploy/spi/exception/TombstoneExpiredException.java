package dev.durabledeploy.spi.exception;

import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import java.time.Instant;

/**
 * A restore came after the tombstone's recovery window closed. The bytes may already be purged; the
 * deploy cannot be brought back through the library.
 */
public class TombstoneExpiredException extends DurableDeployException {

  private final SiteId site;
  private final DeployId deployId;
  private final Instant expiredAt;

  public TombstoneExpiredException(SiteId site, DeployId deployId, Instant expiredAt) {
    super(
        "deploy '"
            + deployId
            + "' of site '"
            + site
            + "' can no longer be restored: its recovery window closed at "
            + expiredAt);
    this.site = site;
    this.deployId = deployId;
    this.expiredAt = expiredAt;
  }

  public SiteId site() {
    return site;
  }

  public DeployId deployId() {
    return deployId;
  }

  public Instant expiredAt() {
    return expiredAt;
  }
}
