package dev.durabledeploy.spi.exception;

import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.metadata.SiteState;

/**
 * The site's record refuses the command: it is trashed or being purged, its recovery window has
 * closed, it is registered already with another profile, or a version-guarded update lost to
 * another writer. The message says which, and what to do.
 */
public class SiteStateException extends DurableDeployException {

  private final SiteId site;
  private final SiteState state;

  public SiteStateException(SiteId site, SiteState state, String reason) {
    super(
        "site '"
            + site
            + "' is "
            + state.name().toLowerCase(java.util.Locale.ROOT)
            + ": "
            + reason);
    this.site = site;
    this.state = state;
  }

  public SiteId site() {
    return site;
  }

  /** The site's state when the command was refused. */
  public SiteState state() {
    return state;
  }
}
