package dev.durabledeploy.spi;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.regex.Matcher;
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

  private static final String MASK = "***";

  /** Private key blocks (PEM): the whole body goes. */
  private static final Pattern PRIVATE_KEY =
      Pattern.compile(
          "(-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----)[\\s\\S]*?(-----END [A-Z0-9 ]*PRIVATE KEY-----)");

  /**
   * User info of a URL, up to the last {@code @} of the authority, so a password with a raw
   * {@code @} ({@code https://u:p@ss@host}) is masked whole.
   */
  private static final Pattern URL_USER_INFO =
      Pattern.compile("(?i)\\b([a-z][a-z0-9+.-]*://)([^/?#\\s\"'<>]*)@");

  /** {@code user:secret@host} without a scheme (log lines of drivers and CLIs). */
  private static final Pattern BARE_USER_INFO =
      Pattern.compile(
          "(?<![A-Za-z0-9+.-]|://)([A-Za-z0-9._%-]+:)(?!\\*\\*\\*@)[^\\s@/:]+(@[A-Za-z0-9][A-Za-z0-9.-]*)");

  private static final String AUTH_SCHEMES =
      "bearer|basic|token|digest|negotiate|aws4-hmac-sha256|bot";

  /** Authorization headers: the scheme stays readable, its credentials go. */
  private static final Pattern AUTHORIZATION =
      Pattern.compile(
          "(?i)\\b((?:proxy-)?authorization[\"']?\\s*[:=]\\s*[\"']?)"
              + "(?!(?:"
              + AUTH_SCHEMES
              + "\\s+)?\\*\\*\\*)"
              + "(?:("
              + AUTH_SCHEMES
              + ")\\s+)?"
              + "[^\\r\\n\"']+");

  /** Cookie headers: every value goes. */
  private static final Pattern COOKIE =
      Pattern.compile("(?i)\\b((?:set-)?cookie\\s*:\\s*)[^\\r\\n]+");

  /**
   * {@code name=value}, {@code name: value}, {@code "name": "value"}, {@code name="value"} and
   * {@code --name value}; whether {@code name} is secret is decided by {@link #isSecretName}.
   */
  private static final Pattern NAMED_VALUE =
      Pattern.compile(
          "(?<![A-Za-z0-9_.])(?<![A-Za-z0-9_.]-)([A-Za-z_][A-Za-z0-9_.-]*)([\"']?\\s*(?:[=:]|(?<=--[A-Za-z0-9_.-]{1,64})\\s)\\s*)"
              + "(\"(?:[^\"\\\\]|\\\\.)*\"|'[^']*'|[^\\s&;\"'<>}\\])]+)");

  /** A bare bearer token in prose. */
  private static final Pattern BEARER =
      Pattern.compile("(?i)\\b(bearer\\s+)(?!\\*\\*\\*)[A-Za-z0-9._~+/=-]{8,}");

  /** Tokens whose shape gives them away wherever they appear. */
  private static final Pattern TOKEN_SHAPES =
      Pattern.compile(
          "\\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|glpat-[A-Za-z0-9_-]{20,}"
              + "|xox[abprs]-[A-Za-z0-9-]{10,}"
              + "|eyJ[A-Za-z0-9_-]{5,}\\.[A-Za-z0-9_-]{5,}\\.[A-Za-z0-9_-]+)");

  private static final Pattern NAME_WORDS = Pattern.compile("[_.\\-]+|(?<=[a-z0-9])(?=[A-Z])");

  /**
   * Masks what looks like a credential in free text before it reaches a log line, an event or an
   * exception message (DESIGN.md I2): user info in URLs ({@code scheme://user:pass@}, up to the
   * last {@code @}), {@code Authorization} and {@code Cookie} headers, bearer tokens, private key
   * blocks, tokens of well-known shapes (GitHub, GitLab, Slack, JWT), and the values of every
   * parameter, JSON field, environment variable or option named like a secret ({@code password},
   * {@code DURABLE_DEPLOY_S3_SECRET_KEY}, {@code aws_secret_access_key}, {@code accessToken},
   * {@code --token}...), quoted or not. A safety net for messages of third-party exceptions and
   * process output; values the library knows to be secret are never put into text in the first
   * place. Scrubbing twice gives the same text.
   */
  public static String redactCredentials(String text) {
    if (text == null) {
      return null;
    }
    String out = PRIVATE_KEY.matcher(text).replaceAll("$1" + MASK + "$2");
    // The conventional "git" user of ssh URLs is no secret; any other user info may be a token.
    out =
        URL_USER_INFO
            .matcher(out)
            .replaceAll(
                m ->
                    Matcher.quoteReplacement(
                        m.group(2).equals("git") ? m.group() : m.group(1) + MASK + "@"));
    out = BARE_USER_INFO.matcher(out).replaceAll("$1" + MASK + "$2");
    out =
        AUTHORIZATION
            .matcher(out)
            .replaceAll(
                m ->
                    Matcher.quoteReplacement(
                        m.group(1) + (m.group(2) == null ? "" : m.group(2) + " ") + MASK));
    out = COOKIE.matcher(out).replaceAll("$1" + MASK);
    out = maskNamedValues(out);
    out = BEARER.matcher(out).replaceAll("$1" + MASK);
    return TOKEN_SHAPES.matcher(out).replaceAll(MASK);
  }

  private static String maskNamedValues(String text) {
    Matcher m = NAMED_VALUE.matcher(text);
    StringBuilder out = new StringBuilder(text.length());
    int copied = 0;
    int from = 0;
    while (from < text.length() && m.find(from)) {
      if (isSecretName(m.group(1))) {
        String value = m.group(3);
        char first = value.charAt(0);
        out.append(text, copied, m.start(3))
            .append(first == '"' || first == '\'' ? first + MASK + first : MASK);
        copied = m.end();
        from = m.end();
      } else {
        // The value of a harmless name may itself hold a secret one (note:password=...).
        from = m.start(3);
      }
    }
    return out.append(text, copied, text.length()).toString();
  }

  /**
   * Whether a parameter, field or variable name names a secret: one of its words (split at {@code _
   * . -} and camel case) ends in password, passwd, pwd, secret, token, credential(s), signature or
   * cookie, or is sig, pass, auth, session, apikey or privatekey, or two words make api key /
   * private key / secret key.
   */
  static boolean isSecretName(String name) {
    String[] words = NAME_WORDS.split(name.replaceFirst("^-+", ""));
    String previous = "";
    for (String raw : words) {
      String w = raw.toLowerCase(java.util.Locale.ROOT);
      if (w.endsWith("password")
          || w.endsWith("passwd")
          || w.endsWith("pwd")
          || w.endsWith("secret")
          || w.endsWith("token")
          || w.endsWith("credential")
          || w.endsWith("credentials")
          || w.endsWith("signature")
          || w.equals("sig")
          || w.equals("pass")
          || w.equals("auth")
          || w.equals("session")
          || w.equals("apikey")
          || w.equals("privatekey")
          || (w.equals("key") && (previous.equals("api") || previous.equals("private")))) {
        return true;
      }
      previous = w;
    }
    return false;
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
