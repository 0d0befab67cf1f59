package dev.durabledeploy.spi.metadata;

import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import java.time.Instant;
import java.util.Objects;

/**
 * An alias as a store keeps it: a deleted alias keeps its row with a null {@code target}, so its
 * version keeps counting when it is created again.
 *
 * @param target the deploy the alias points at, or {@code null} when the alias is deleted
 * @param version the alias's version, 1 for a new alias, one more on every move or delete
 * @param updatedAt when the row was last written
 */
public record AliasRow(DeployId target, long version, Instant updatedAt) {

  public AliasRow {
    Objects.requireNonNull(updatedAt, "updatedAt");
  }

  /** The alias, or null when deleted. */
  public Alias toAlias(SiteId site, AliasName name) {
    return target == null ? null : new Alias(site, name, target, version, updatedAt);
  }
}
