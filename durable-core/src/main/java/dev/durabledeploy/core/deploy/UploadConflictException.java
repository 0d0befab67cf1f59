package dev.durabledeploy.core.deploy;

import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.DurableDeployException;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.UploadPath;

/**
 * An upload of a path this host did not know existed lost to another writer of the same path (a
 * concurrent upload, possibly on another host): the path now holds that writer's bytes and this
 * upload stored nothing. Send the file again: the path is known now, and the upload replaces it.
 */
public class UploadConflictException extends DurableDeployException {

  private final SiteId site;
  private final DeployId deployId;
  private final UploadPath path;

  public UploadConflictException(SiteId site, DeployId deployId, UploadPath path) {
    super(
        "'"
            + path.value()
            + "' of deploy '"
            + deployId
            + "' of site '"
            + site
            + "' was created by another upload while this one was writing; this upload stored"
            + " nothing: send it again to replace the file");
    this.site = site;
    this.deployId = deployId;
    this.path = path;
  }

  public SiteId site() {
    return site;
  }

  public DeployId deployId() {
    return deployId;
  }

  public UploadPath path() {
    return path;
  }
}
