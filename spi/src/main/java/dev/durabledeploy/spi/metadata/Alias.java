package dev.durabledeploy.spi.metadata;

import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import java.time.Instant;
import java.util.Objects;

/**
 * A named pointer from a site to a deploy.
 *
 * @param version starts at 1 and grows by one with every change of the alias, including its
 *     deletion, so a projection can refuse to overwrite a newer value with an older one
 */
public record Alias(SiteId site, AliasName name, DeployId target, long version, Instant updatedAt) {

  public Alias {
    Objects.requireNonNull(site, "site");
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(target, "target");
    Objects.requireNonNull(updatedAt, "updatedAt");
    if (version < 1) {
      throw new IllegalArgumentException("alias versions start at 1");
    }
  }
}
