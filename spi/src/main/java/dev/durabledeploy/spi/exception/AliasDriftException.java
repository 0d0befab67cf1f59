package dev.durabledeploy.spi.exception;

import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.metadata.Alias;
import dev.durabledeploy.spi.metadata.AliasExpectation;
import java.util.Optional;

/**
 * An alias compare-and-set failed: the alias is not in the state the caller expected
 * (docs/invariants.md E2). Carries the current alias (empty when the alias does not exist) so the
 * caller can decide whether to retry against it.
 */
public class AliasDriftException extends DurableDeployException {

  private final SiteId site;
  private final AliasName alias;
  private final transient Alias current;
  private final AliasExpectation expected;

  public AliasDriftException(
      SiteId site, AliasName alias, Alias current, AliasExpectation expected) {
    super(
        "alias '"
            + alias
            + "' of site '"
            + site
            + "' drifted: expected "
            + expected
            + " but it is "
            + (current == null
                ? "absent"
                : "at " + current.target() + " (version " + current.version() + ")"));
    this.site = site;
    this.alias = alias;
    this.current = current;
    this.expected = expected;
  }

  public SiteId site() {
    return site;
  }

  public AliasName alias() {
    return alias;
  }

  /** The alias as it is now, or empty when it does not exist. */
  public Optional<Alias> current() {
    return Optional.ofNullable(current);
  }

  public AliasExpectation expected() {
    return expected;
  }
}
