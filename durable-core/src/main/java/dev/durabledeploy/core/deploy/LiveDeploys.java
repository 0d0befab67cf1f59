package dev.durabledeploy.core.deploy;

import dev.durabledeploy.core.events.Operations.Operation;
import dev.durabledeploy.core.retry.Retrier;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.exception.DeployNotFoundException;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.spi.metadata.MetadataStore;

/** The one read every step of the deploy saga starts from: the live deploy, or not found. */
final class LiveDeploys {

  private LiveDeploys() {}

  /** The live deploy, read with retries; {@link DeployNotFoundException} when there is none. */
  static Deploy require(
      Retrier retrier, MetadataStore metadata, Operation op, SiteId site, DeployId deployId) {
    return retrier
        .call(op, () -> metadata.findDeploy(site, deployId))
        .orElseThrow(() -> new DeployNotFoundException(site, deployId));
  }
}
