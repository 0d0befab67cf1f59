package dev.durabledeploy.spi.exception;

import dev.durabledeploy.spi.SiteId;
import java.time.Duration;

/**
 * The site lock could not be taken within its timeout because another mutation of the same site
 * holds it (docs/invariants.md E1). Safe to retry later; nothing was changed.
 */
public class SiteBusyException extends DurableDeployException {

  private final SiteId site;
  private final Duration timeout;

  public SiteBusyException(SiteId site, Duration timeout) {
    super(
        "site '"
            + site
            + "' is busy: another operation held its lock for longer than "
            + timeout
            + "; retry later");
    this.site = site;
    this.timeout = timeout;
  }

  public SiteId site() {
    return site;
  }

  public Duration timeout() {
    return timeout;
  }
}
