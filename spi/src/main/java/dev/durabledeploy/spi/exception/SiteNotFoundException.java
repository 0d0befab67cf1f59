package dev.durabledeploy.spi.exception;

import dev.durabledeploy.spi.SiteId;

/** The site has no registry record: register it first (or it was purged). */
public class SiteNotFoundException extends DurableDeployException {

  private final SiteId site;

  public SiteNotFoundException(SiteId site, String hint) {
    super("site '" + site + "' is not registered" + (hint == null ? "" : "; " + hint));
    this.site = site;
  }

  public SiteId site() {
    return site;
  }
}
