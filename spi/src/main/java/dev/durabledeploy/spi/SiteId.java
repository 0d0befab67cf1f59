package dev.durabledeploy.spi;

import java.util.regex.Pattern;

/**
 * A site: one tenant of the deploy plane. A lowercase slug, {@code [a-z0-9][a-z0-9-]{0,62}}, so it
 * is safe as a path segment, an object-key segment, a Valkey hash tag and a SQL value.
 */
public record SiteId(String value) implements Comparable<SiteId> {

  private static final Pattern SLUG = Pattern.compile("[a-z0-9][a-z0-9-]{0,62}");

  public SiteId {
    Inputs.requireMatch(
        "site", value, 63, SLUG, "must be a lowercase slug: [a-z0-9][a-z0-9-]{0,62}");
  }

  public static SiteId of(String value) {
    return new SiteId(value);
  }

  @Override
  public int compareTo(SiteId other) {
    return value.compareTo(other.value);
  }

  @Override
  public String toString() {
    return value;
  }
}
