package dev.durabledeploy.spi.exception;

import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;

/** No deploy (and, where the operation says so, no tombstone) exists with this id in this site. */
public class DeployNotFoundException extends DurableDeployException {

  private final SiteId site;
  private final DeployId deployId;

  public DeployNotFoundException(SiteId site, DeployId deployId) {
    super("deploy '" + deployId + "' not found in site '" + site + "'");
    this.site = site;
    this.deployId = deployId;
  }

  public SiteId site() {
    return site;
  }

  public DeployId deployId() {
    return deployId;
  }
}
