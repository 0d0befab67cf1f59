package dev.durabledeploy.spi.support;

import dev.durabledeploy.spi.exception.ConfigurationException;
import java.time.Duration;

/**
 * The one validator of builder settings: each check throws {@link ConfigurationException} naming
 * the property and saying what it must be and what it was, so a wrong setting fails at {@code
 * build()} with a message an operator can act on (HikariCP's rule). External input a caller passes
 * at run time is checked by {@link dev.durabledeploy.spi.Inputs} instead.
 */
public final class Config {

  private Config() {}

  /** {@code value}, which must be set. */
  public static <T> T require(String property, T value) {
    if (value == null) {
      throw new ConfigurationException(property, "is required");
    }
    return value;
  }

  /** {@code value}, which must be set and not blank. */
  public static String requireText(String property, String value) {
    if (require(property, value).isBlank()) {
      throw new ConfigurationException(property, "must not be blank");
    }
    return value;
  }

  /** {@code value}, which must be set, not blank and at most {@code maxLength} characters long. */
  public static String requireText(String property, String value, int maxLength) {
    if (requireText(property, value).length() > maxLength) {
      throw new ConfigurationException(
          property, "must be at most " + maxLength + " characters long, was " + value.length());
    }
    return value;
  }

  /** {@code value}, which must be at least {@code min}. */
  public static long requireAtLeast(String property, long value, long min) {
    if (value < min) {
      throw new ConfigurationException(property, "must be at least " + min + ", was " + value);
    }
    return value;
  }

  /** {@code value}, which must lie in {@code [min, max]}. */
  public static long requireRange(String property, long value, long min, long max) {
    if (value < min || value > max) {
      throw new ConfigurationException(
          property, "must be between " + min + " and " + max + ", was " + value);
    }
    return value;
  }

  /** {@code value}, which must be set and zero or positive. */
  public static Duration requireNotNegative(String property, Duration value) {
    if (require(property, value).isNegative()) {
      throw new ConfigurationException(property, "must not be negative, was " + value);
    }
    return value;
  }

  /** {@code value}, which must be set and positive. */
  public static Duration requirePositive(String property, Duration value) {
    if (requireNotNegative(property, value).isZero()) {
      throw new ConfigurationException(property, "must be positive, was " + value);
    }
    return value;
  }
}
