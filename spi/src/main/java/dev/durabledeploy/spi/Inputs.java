package dev.durabledeploy.spi;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.regex.Pattern;

/**
 * Validation shared by every value type and adapter, so that one set of rules decides what an
 * external string may contain (DESIGN.md I1). Every failure is an {@link InvalidInputException}
 * naming the field.
 */
public final class Inputs {

  private static final int RENDER_LIMIT = 64;

  private Inputs() {}

  private static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");

  /** A SHA-256 digest as 64 lowercase hex digits. */
  public static String requireSha256(String field, String value) {
    return requireMatch(field, value, 64, SHA256, "is not a SHA-256: 64 lowercase hex digits");
  }

  /** Rejects null, empty and over-long values and any control character. */
  public static String requireText(String field, String value, int maxLength) {
    if (value == null) {
      throw new InvalidInputException(field, "is required");
    }
    if (value.isEmpty()) {
      throw new InvalidInputException(field, "must not be empty");
    }
    rejectControlCharacters(field, value);
    rejectBrokenSurrogates(field, value);
    if (value.length() > maxLength) {
      throw new InvalidInputException(
          field, "is " + value.length() + " characters long, at most " + maxLength + " allowed");
    }
    return value;
  }

  /** {@link #requireText} plus a pattern the whole value must match, described by {@code rule}. */
  public static String requireMatch(
      String field, String value, int maxLength, Pattern pattern, String rule) {
    requireText(field, value, maxLength);
    if (!pattern.matcher(value).matches()) {
      throw new InvalidInputException(field, render(value) + " " + rule);
    }
    return value;
  }

  /**
   * Validates a relative, slash-separated path: no leading slash or drive letter, no empty, {@code
   * .} or {@code ..} segment, no backslash, no control byte, at most {@code maxBytes} UTF-8 bytes
   * and 255 bytes per segment. With {@code allowTrailingSlash} the value may end in one slash (a
   * prefix).
   */
  public static String requireRelativePath(
      String field, String value, int maxBytes, boolean allowTrailingSlash) {
    requireText(field, value, maxBytes);
    int bytes = value.getBytes(StandardCharsets.UTF_8).length;
    if (bytes > maxBytes) {
      throw new InvalidInputException(
          field, "is " + bytes + " UTF-8 bytes long, at most " + maxBytes + " allowed");
    }
    if (value.indexOf('\\') >= 0) {
      throw new InvalidInputException(field, render(value) + " contains a backslash");
    }
    if (value.startsWith("/")) {
      throw new InvalidInputException(field, render(value) + " is absolute (starts with '/')");
    }
    if (value.length() >= 2 && value.charAt(1) == ':' && Character.isLetter(value.charAt(0))) {
      throw new InvalidInputException(field, render(value) + " starts with a drive letter");
    }
    String body =
        allowTrailingSlash && value.endsWith("/") ? value.substring(0, value.length() - 1) : value;
    if (body.isEmpty()) {
      throw new InvalidInputException(field, "has no path segment");
    }
    for (String segment : body.split("/", -1)) {
      if (segment.isEmpty()) {
        throw new InvalidInputException(field, render(value) + " has an empty path segment");
      }
      if (segment.equals(".") || segment.equals("..")) {
        throw new InvalidInputException(
            field, render(value) + " has a '" + segment + "' segment (path traversal)");
      }
      if (segment.getBytes(StandardCharsets.UTF_8).length > 255) {
        throw new InvalidInputException(field, "has a path segment longer than 255 bytes");
      }
    }
    return value;
  }

  /** Rejects a negative or too large number. */
  public static long requireRange(String field, long value, long min, long max) {
    if (value < min || value > max) {
      throw new InvalidInputException(
          field, "is " + value + ", must be between " + min + " and " + max);
    }
    return value;
  }

  /** Rejects a missing, zero or negative duration (a lease time to live, a timeout). */
  public static Duration requirePositive(String field, Duration value) {
    if (value == null || value.isNegative() || value.isZero()) {
      throw new InvalidInputException(field, "must be a positive duration");
    }
    return value;
  }

  /**
   * Renders a user-supplied value for a message: quoted, control characters escaped, truncated. Use
   * it for every value that is not a credential; never pass a URL or token.
   */
  public static String render(String value) {
    if (value == null) {
      return "null";
    }
    StringBuilder out = new StringBuilder("'");
    int limit = Math.min(value.length(), RENDER_LIMIT);
    for (int i = 0; i < limit; i++) {
      char c = value.charAt(i);
      if (isControl(c)) {
        out.append(String.format("\\u%04x", (int) c));
      } else {
        out.append(c);
      }
    }
    if (value.length() > limit) {
      out.append("...");
    }
    return out.append('\'').toString();
  }

  private static final Pattern URL_USER_INFO =
      Pattern.compile("(?i)([a-z][a-z0-9+.-]*://)[^/@\\s]+@");
  private static final Pattern SECRET_PARAMETER =
      Pattern.compile(
          "(?i)((?:password|passwd|pwd|secret|token|access_token|api[_-]?key|signature"
              + "|x-amz-signature|x-amz-credential|x-amz-security-token|sig)\\s*[=:]\\s*)[^&\\s,;\"']+");

  /**
   * Masks what looks like a credential in free text before it reaches a log line, an event or an
   * exception message (DESIGN.md I2): user info in URLs ({@code scheme://user:pass@}) and the
   * values of parameters named like secrets ({@code password=}, {@code token=}, signed-URL
   * signatures...). A safety net for messages of third-party exceptions; values the library knows
   * to be secret are never put into text in the first place.
   */
  public static String redactCredentials(String text) {
    if (text == null) {
      return null;
    }
    String masked = URL_USER_INFO.matcher(text).replaceAll("$1***@");
    return SECRET_PARAMETER.matcher(masked).replaceAll("$1***");
  }

  private static void rejectControlCharacters(String field, String value) {
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      if (isControl(c)) {
        throw new InvalidInputException(
            field,
            "contains control character "
                + String.format("U+%04X", (int) c)
                + " at index "
                + i
                + (c == 0 ? " (NUL)" : ""));
      }
    }
  }

  private static void rejectBrokenSurrogates(String field, String value) {
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      if (Character.isHighSurrogate(c)
          && i + 1 < value.length()
          && Character.isLowSurrogate(value.charAt(i + 1))) {
        i++;
      } else if (Character.isSurrogate(c)) {
        throw new InvalidInputException(field, "contains an unpaired UTF-16 surrogate");
      }
    }
  }

  private static boolean isControl(char c) {
    return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == '\u2028' || c == '\u2029';
  }
}
