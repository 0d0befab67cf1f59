package dev.durabledeploy.spi.exception;

import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import java.util.List;

/**
 * A deploy could not be removed because at least one alias targets it (docs/invariants.md V1). Move
 * or delete the listed aliases first.
 */
public class DeployAliasedException extends DurableDeployException {

  private final SiteId site;
  private final DeployId deployId;
  private final List<AliasName> aliases;

  public DeployAliasedException(SiteId site, DeployId deployId, List<AliasName> aliases) {
    super(
        "deploy '"
            + deployId
            + "' of site '"
            + site
            + "' is targeted by alias(es) "
            + aliases
            + "; move those aliases before deleting it");
    this.site = site;
    this.deployId = deployId;
    this.aliases = List.copyOf(aliases);
  }

  public SiteId site() {
    return site;
  }

  public DeployId deployId() {
    return deployId;
  }

  /** The aliases that target the deploy, sorted by name. */
  public List<AliasName> aliases() {
    return aliases;
  }
}
