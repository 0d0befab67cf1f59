package dev.durabledeploy.spi.metadata;

/**
 * What a site deletion ({@code MetadataCommands.deleteSite}) removed. All zero when the site was
 * already gone.
 */
public record SiteDeletion(int deploys, int aliases, int tombstones) {

  public boolean removedAnything() {
    return deploys + aliases + tombstones > 0;
  }
}
