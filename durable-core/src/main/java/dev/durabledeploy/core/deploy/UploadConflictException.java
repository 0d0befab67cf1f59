package dev.durabledeploy.core.deploy;

import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.UploadPath;
import dev.durabledeploy.spi.exception.DurableDeployException;

/**
 * Another writer stored the path while this upload was writing it — a concurrent upload of the same
 * path (possibly on another host, which this host could not know of), or a restore of the deploy
 * that put its own copy back — so the path does not hold this upload's bytes. Send the file again:
 * the path is known now, and the upload replaces it.
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
