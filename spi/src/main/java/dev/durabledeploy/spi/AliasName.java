package dev.durabledeploy.spi;

import java.util.regex.Pattern;

/**
 * The name of an alias such as {@code production} or {@code preview}: {@code
 * [a-z0-9][a-z0-9_-]{0,62}}, safe as an object-key segment.
 */
public record AliasName(String value) implements Comparable<AliasName> {

  // Declared before the constants below, which are validated against it.
  private static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9_-]{0,62}");

  /** The alias a finalize targets when the host names none. */
  public static final AliasName PRODUCTION = new AliasName("production");

  /** The conventional alias for previews. */
  public static final AliasName PREVIEW = new AliasName("preview");

  public AliasName {
    Inputs.requireMatch("alias", value, 63, NAME, "must match [a-z0-9][a-z0-9_-]{0,62}");
  }

  public static AliasName of(String value) {
    return new AliasName(value);
  }

  @Override
  public int compareTo(AliasName other) {
    return value.compareTo(other.value);
  }

  @Override
  public String toString() {
    return value;
  }
}
