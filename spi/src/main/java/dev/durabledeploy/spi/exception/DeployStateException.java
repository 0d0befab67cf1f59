package dev.durabledeploy.spi.exception;

import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.metadata.DeployState;

/**
 * The deploy exists but is in a state the operation cannot act on, e.g. aliasing a deploy that is
 * still {@code PENDING}, or finalizing one that is already active behind another alias.
 */
public class DeployStateException extends DurableDeployException {

  private final SiteId site;
  private final DeployId deployId;
  private final DeployState state;

  public DeployStateException(SiteId site, DeployId deployId, DeployState state, String reason) {
    super("deploy '" + deployId + "' of site '" + site + "' is " + state + ": " + reason);
    this.site = site;
    this.deployId = deployId;
    this.state = state;
  }

  public SiteId site() {
    return site;
  }

  public DeployId deployId() {
    return deployId;
  }

  public DeployState state() {
    return state;
  }
}
