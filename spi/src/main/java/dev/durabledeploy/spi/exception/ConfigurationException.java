package dev.durabledeploy.spi.exception;

/**
 * A builder was given a setting it cannot work with. Thrown at {@code build()} or start, and names
 * the property so the operator knows what to change; later only for what a backend checks when a
 * call reaches it (a permission missing from an ACL, credentials it refuses for a command), which
 * retrying does not fix.
 */
public class ConfigurationException extends DurableDeployException {

  private final String property;

  public ConfigurationException(String property, String reason) {
    super("invalid configuration '" + property + "': " + reason);
    this.property = property;
  }

  public ConfigurationException(String property, String reason, Throwable cause) {
    super("invalid configuration '" + property + "': " + reason, cause);
    this.property = property;
  }

  /** The configuration property at fault. */
  public String property() {
    return property;
  }
}
