package dev.durabledeploy.core.deploy;

import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.UploadPath;
import dev.durabledeploy.spi.exception.DurableDeployException;
import dev.durabledeploy.spi.metadata.DeployState;
import java.time.Duration;
import java.util.Optional;

/**
 * An upload wrote its file while the deploy stopped being pending, and what became of the deploy
 * was still undecided when the upload stopped waiting ({@link DeployService#SETTLE_TIMEOUT}):
 * typically a finalize that has been verifying the deploy for that long, or that crashed and left
 * it {@code FINALIZING}. Unlike a {@link dev.durabledeploy.spi.exception.DeployStateException} from
 * an upload, the file was <em>not</em> withdrawn. Call {@code finalizeDeploy} to finish the
 * finalize: a resumed finalize lists and verifies the file with the others. If the finalize that
 * was running had listed the deploy before the write and activates it, the file is outside what it
 * verified; {@code reconcile} reports it as {@code FILE_ADDED_AFTER_FINALIZE} and removes it past
 * grace.
 */
public class UploadUnsettledException extends DurableDeployException {

  private final SiteId site;
  private final DeployId deployId;
  private final UploadPath path;
  private final DeployState lastSeen;

  public UploadUnsettledException(
      SiteId site, DeployId deployId, UploadPath path, DeployState lastSeen, Duration waited) {
    super(
        "'"
            + path.value()
            + "' of deploy '"
            + deployId
            + "' of site '"
            + site
            + "' was written while the deploy stopped being pending, and after "
            + waited.toMinutes()
            + " min the deploy is still "
            + (lastSeen == null ? "being removed (its site stayed busy)" : lastSeen)
            + "; the file was left in place. Call finalizeDeploy to finish the finalize, which"
            + " verifies the file with the others; a file outside what a finalize verified is"
            + " reported by reconcile as FILE_ADDED_AFTER_FINALIZE and removed past grace");
    this.site = site;
    this.deployId = deployId;
    this.path = path;
    this.lastSeen = lastSeen;
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

  /** The deploy's state when the upload stopped waiting; empty if it was not live. */
  public Optional<DeployState> lastSeen() {
    return Optional.ofNullable(lastSeen);
  }
}
