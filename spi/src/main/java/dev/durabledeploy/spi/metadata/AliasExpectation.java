package dev.durabledeploy.spi.metadata;

import dev.durabledeploy.spi.DeployId;

/**
 * The compare part of an alias compare-and-set (docs/invariants.md E2). Either part may be left
 * open; an alias that does not exist has version 0 and no target.
 *
 * @param version the alias version the caller last saw, or {@code null} for any
 * @param current the deploy the caller believes the alias targets, or {@code null} for any
 */
public record AliasExpectation(Long version, DeployId current) {

  /** No expectation: last writer wins (still atomic, never a lost update). */
  public static final AliasExpectation ANY = new AliasExpectation(null, null);

  /** The alias must not exist yet. */
  public static final AliasExpectation ABSENT = new AliasExpectation(0L, null);

  public AliasExpectation {
    if (version != null && version < 0) {
      throw new IllegalArgumentException("expected version must not be negative");
    }
  }

  public static AliasExpectation version(long version) {
    return new AliasExpectation(version, null);
  }

  public static AliasExpectation current(DeployId current) {
    return new AliasExpectation(null, current);
  }

  /**
   * Whether an alias at {@code actualVersion} targeting {@code actualTarget} (null: absent) fits.
   */
  public boolean matches(long actualVersion, DeployId actualTarget) {
    return (version == null || version == actualVersion)
        && (current == null || current.equals(actualTarget));
  }

  @Override
  public String toString() {
    if (version == null && current == null) {
      return "any";
    }
    StringBuilder out = new StringBuilder();
    if (version != null) {
      out.append("version ").append(version);
    }
    if (current != null) {
      out.append(out.length() > 0 ? " and " : "").append("target ").append(current);
    }
    return out.toString();
  }
}
