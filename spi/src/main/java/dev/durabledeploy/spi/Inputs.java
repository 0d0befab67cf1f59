package dev.durabledeploy.spi;

import dev.durabledeploy.spi.exception.InvalidInputException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Validation shared by every value type and adapter, so that one set of rules decides what an
 * external string may contain (docs/invariants.md I1). Every failure is an {@link
 * InvalidInputException} naming the field.
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

  /** What a private key's PEM or PGP armour calls it: RSA, EC, OPENSSH, ENCRYPTED, PGP... */
  private static final String KEY_LABEL = "[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?";

  /** A private key's first and last marker (PEM, PGP armour). */
  private static final Pattern KEY_BEGIN = Pattern.compile("-----BEGIN " + KEY_LABEL + "-----");

  private static final Pattern KEY_END = Pattern.compile("-----END " + KEY_LABEL + "-----");

  /**
   * User info of a URL, up to the last {@code @} of the authority, so a password with a raw
   * {@code @} ({@code https://u:p@ss@host}) is masked whole. Bounded (a scheme of 32 characters,
   * user info of 4,096), so a long run without a separator is scanned in linear time.
   */
  private static final Pattern URL_USER_INFO =
      Pattern.compile("(?i)\\b([a-z][a-z0-9+.-]{0,31}://)([^/?#\\s\"'<>{}]{0,4096})@");

  /**
   * {@code scheme://user:password} that the text's end cuts off before its {@code @} (a message cut
   * to its bound); a numeric port is no password.
   */
  private static final Pattern URL_CUT_PASSWORD =
      Pattern.compile(
          "(?i)\\b([a-z][a-z0-9+.-]{0,31}://[^\\s/?#@:\\[\\]\"'<>]{1,256}+:)"
              + "(?![0-9]{0,5}+\\z)(?!\\*\\*\\*\\z)[^\\s/?#@\"'<>]{1,256}+\\z");

  /**
   * {@code scheme://user:password@host} whose password holds a raw {@code /}, {@code ?} or {@code
   * #} (AWS secret keys hold {@code /}): up to the first {@code @} after it. A port ({@code
   * host:8080/path@x}) and an IPv6 literal are not user info.
   */
  private static final Pattern URL_USER_PASSWORD =
      Pattern.compile(
          "(?i)\\b([a-z][a-z0-9+.-]{0,31}://)[^\\s/?#@:\\[\\]\"'<>]{0,256}+:"
              + "(?![0-9]*+(?:[/?#\\s\"'<>]|$))[^\\s@/?#\"'<>]{0,256}+[/?#][^\\s@\"'<>]{0,256}+@");

  /**
   * {@code user:secret@host} without a scheme (log lines of drivers and CLIs). It starts only where
   * a run of user characters starts (the look-behind holds every one of them), so a long run of
   * {@code _} or {@code %} is scanned once, not again from each of its characters.
   */
  private static final Pattern BARE_USER_INFO =
      Pattern.compile(
          "(?<![A-Za-z0-9+._%-]|://)([A-Za-z0-9._%-]+:)(?!\\*\\*\\*@)[^\\s@/:]+(@[A-Za-z0-9][A-Za-z0-9.-]*)");

  /** Oracle's {@code user/password@db}, in a thin JDBC URL or on a {@code sqlplus} command line. */
  private static final Pattern USER_SLASH_PASSWORD =
      Pattern.compile(
          "(?i)((?:\\bjdbc:oracle:[a-z0-9]+:|\\bsqlplus\\s+(?:-\\S+\\s+)*)[^/@\\s:\"']+/)"
              + "(?!\\*\\*\\*@)[^@\\s\"']+@");

  /**
   * {@code curl -u user:password}, {@code --user user:password}; a numeric {@code uid:gid} ({@code
   * docker run -u 1000:1000}) is no credential, and neither is the {@code -u} of the tools where it
   * names a user and group or means "unique" ({@code docker run -u www-data:www-data}, {@code
   * podman exec -u node:node}, {@code sort -u file:12:}): after those on the same command the
   * option is left alone, anywhere else it is masked. The user name is bounded, so text with many
   * {@code -u} is scanned in linear time.
   */
  private static final Pattern USER_OPTION =
      Pattern.compile(
          "(?<![\\w-])(-u\\s*|--user[=\\s]\\s*)([\"']?)(?![0-9]*:[0-9]*(?:[\\s\"']|$))"
              + "([^\\s:\"']{0,256}+:)(?!\\*\\*\\*)[^\\s\"']+");

  /** The tools whose {@code -u} names a user and group, or means "unique": no credential. */
  private static final Pattern USER_TOOL =
      Pattern.compile(
          "\\b(?:docker|podman|nerdctl|kubectl|sort|uniq|ps|sudo|su|runuser|chroot)\\b");

  /**
   * Whether the command the option at {@code at} belongs to is one of {@link #USER_TOOL}: looked
   * for at most 200 characters back, not past a line end or a command separator. Called only for an
   * option that looks like a credential, so it costs nothing on text without one.
   */
  private static boolean afterUserTool(String text, int at) {
    int from = at;
    while (from > 0 && at - from < 200 && "\r\n|;&".indexOf(text.charAt(from - 1)) < 0) {
      from--;
    }
    return USER_TOOL.matcher(text).region(from, at).find();
  }

  /**
   * A password glued to {@code -p} ({@code mysql -pSECRET}) or after {@code docker login -p}: only
   * on the command lines of those tools, where {@code -p} means password.
   */
  private static final Pattern DASH_P_PASSWORD =
      Pattern.compile(
          "(\\b(?:mysql|mysqldump|mysqladmin|mysqlimport|mysqlcheck|mysqlshow|mysqlpump"
              + "|mariadb|mariadb-dump)\\b[^\\r\\n|;&]{0,200}?\\s-p"
              + "|\\b(?:docker\\s+login|az\\s+login|twine)\\b[^\\r\\n|;&]{0,200}?\\s-p\\s+"
              + "|\\bsshpass\\b[^\\r\\n|;&]{0,200}?\\s-p\\s*"
              + "|\\bredis-cli\\b[^\\r\\n|;&]{0,200}?\\s-a\\s*"
              + "|\\bldap[a-z]{0,16}\\b[^\\r\\n|;&]{0,200}?\\s-w\\s*"
              + "|\\bhtpasswd\\s+-[A-Za-z]{0,8}b[A-Za-z]{0,8}\\s+(?:-\\S{1,64}\\s+){0,4}\\S{1,256}\\s+\\S{1,256}\\s+)"
              + "(?!\\*\\*\\*)[^\\s\"']+");

  private static final String AUTH_SCHEMES =
      "bearer|basic|token|digest|negotiate|aws4-hmac-sha256|bot";

  /** Authorization headers: the scheme stays readable, its credentials go. */
  private static final Pattern AUTHORIZATION =
      Pattern.compile(
          "(?i)\\b((?:proxy-)?authorization[\"']?+\\s*+[:=]\\s*+[\"']?+)"
              + "(?!(?:"
              + AUTH_SCHEMES
              + "\\s+)?\\*\\*\\*)"
              + "(?:("
              + AUTH_SCHEMES
              + ")\\s+)?"
              + "[^\\r\\n\"']+");

  /** Cookie headers: every value goes. */
  private static final Pattern COOKIE =
      Pattern.compile("(?i)\\b((?:set-)?cookie[\"']?\\s*:\\s*)[^\\r\\n]+");

  /**
   * {@code name=value}, {@code name: value}, {@code "name": "value"}, {@code name="value"} and
   * {@code --name value}; whether {@code name} is secret is decided by {@link #isSecretName}. The
   * lengths are bounded so that every match costs a bounded scan (the value of a harmless name is
   * searched again for a secret one); a longer unquoted secret value is followed to its end in
   * {@link #maskNamedValues}. A quoted value that the text's end cuts off (a line cut to its bound)
   * is a value too, masked to that end.
   */
  private static final Pattern NAMED_VALUE =
      Pattern.compile(
          "(?<![A-Za-z0-9_.])(?<![A-Za-z0-9_.]-)([A-Za-z_][A-Za-z0-9_.-]{0,255}+)((?:\\\\?[\"'])?\\s*(?::=|=>|->|[=:]|%3[Dd]|(?<=(?<![A-Za-z0-9_.-])--?[A-Za-z0-9_.-]{1,64})\\s)\\s*)"
              + "(\\\\\"(?:[^\"\\\\]|\\\\[^\"]){0,8192}+(?:\\\\\"|\\z)"
              + "|\"(?:[^\"\\\\]|\\\\.){0,8192}+(?:\"|\\z)|'[^']{0,8192}+(?:'|\\z)"
              + "|\\{[^}\\r\\n]{0,1024}+\\}|[^\\s&;\"'<>}\\])]{1,1024}+)");

  /** {@code <password>value</password>} (Maven settings, XML configuration). */
  private static final Pattern XML_ELEMENT =
      Pattern.compile("<([A-Za-z_][A-Za-z0-9_.:-]*)(\\s[^<>]*)?>([^<]+)</\\1\\s*>");

  /**
   * A bare bearer token in prose; not the next parameter of a form after {@code token_type=bearer}
   * ({@code bearer expires_in=3600}).
   */
  private static final Pattern BEARER =
      Pattern.compile(
          "(?i)\\b(bearer\\s+)(?!\\*\\*\\*)(?![A-Za-z0-9_.-]{1,64}+=[^=])[A-Za-z0-9._~+/=-]{8,}");

  /** Tokens whose shape gives them away wherever they appear. */
  private static final Pattern TOKEN_SHAPES =
      Pattern.compile(
          "\\b(?:gh[pousr]_[A-Za-z0-9]{16,}|github_pat_[A-Za-z0-9_]{20,}"
              + "|gl(?:pat|dt|rt|cbt|ptt|ft|imt|soat|oas)-[A-Za-z0-9_-]{20,}"
              + "|ATBB[A-Za-z0-9_=.-]{24,}"
              + "|xox[abeoprs]-[A-Za-z0-9-]{10,}|xapp-[0-9]-[A-Za-z0-9-]{10,}"
              + "|AIza[0-9A-Za-z_-]{30,}|ya29\\.[A-Za-z0-9_-]{20,}|GOCSPX-[A-Za-z0-9_-]{20,}"
              + "|[MNO][A-Za-z0-9_-]{23,27}\\.[A-Za-z0-9_-]{6}\\.[A-Za-z0-9_-]{27,}"
              + "|[rs]k_(?:live|test)_[A-Za-z0-9]{10,}|whsec_[A-Za-z0-9]{20,}"
              + "|SG\\.[A-Za-z0-9_-]{16,}\\.[A-Za-z0-9_-]{16,}|key-[0-9a-z]{32}"
              + "|npm_[A-Za-z0-9]{30,}|pypi-AgE[A-Za-z0-9_-]{16,}|dckr_pat_[A-Za-z0-9_-]{20,}"
              + "|rubygems_[0-9a-f]{40,}|sq[pua]_[0-9a-f]{40}"
              + "|hv[sbr]\\.[A-Za-z0-9_-]{20,}|[A-Za-z0-9]{14}\\.atlasv1\\.[A-Za-z0-9_=-]{40,}"
              + "|NR(?:AK|AA|II|JS)-[A-Za-z0-9]{20,}"
              + "|sk-(?:proj|svcacct|admin|ant-[a-z]{3,5}[0-9]{2})-[A-Za-z0-9_-]{20,}|sk-[A-Za-z0-9]{20,}"
              + "|hf_[A-Za-z0-9]{30,}|shp(?:at|ss|ca|pa)_[a-fA-F0-9]{32}"
              + "|AGE-SECRET-KEY-1[0-9A-Z]{50,}"
              + "|eyJ[A-Za-z0-9_-]{5,}\\.[A-Za-z0-9_-]{5,}\\.[A-Za-z0-9_-]+)");

  /**
   * Webhook URLs whose path is the credential (Slack, Discord): the host and the fixed part of the
   * path stay, the rest goes.
   */
  private static final Pattern WEBHOOK_PATH =
      Pattern.compile(
          "(?i)\\b((?:hooks\\.slack\\.com/(?:services|workflows|triggers)"
              + "|discord(?:app)?\\.com/api/webhooks)/)(?!\\*\\*\\*)[A-Za-z0-9/_-]+");

  /**
   * An OAuth authorization code in a redirect's query or fragment ({@code ?code=...&state=}); a
   * number or an upper-case error name ({@code ?code=404}, {@code ?code=E_TIMEOUT}) is no code.
   */
  private static final Pattern OAUTH_CODE =
      Pattern.compile(
          "([?&#]code=)(?![A-Z0-9_.-]{1,64}+(?:[&#\\s\"'<>]|\\z))(?!\\*\\*\\*)[^&#\\s\"'<>]{8,1024}+");

  /** A Twilio API key or account SID followed by its secret ({@code SK...:secret}). */
  private static final Pattern SID_PAIR =
      Pattern.compile("\\b((?:SK|AC)[0-9a-f]{32}:)(?!\\*\\*\\*)[^\\s@\"']+");

  /**
   * Base64 that encodes a private key or a JSON field {@code "private_key"} (a GCP service-account
   * file passed as one base64 value, a kubeconfig's {@code client-key-data}): each of the three
   * alignments of the words. The whole base64 run around it goes; found by this marker, then
   * widened by hand, so a long base64 run without one is scanned once.
   */
  private static final Pattern BASE64_KEY_MARKER =
      Pattern.compile(
          "ByaXZhdGVfa2V5|wcml2YXRlX2tle|cHJpdmF0ZV9rZX|UFJJVkFURSBLRV|BSSVZBVEUgS0VZ"
              + "|QUklWQVRFIEtFWS");

  /**
   * SQL that sets a password: {@code IDENTIFIED BY 'x'}, {@code IDENTIFIED WITH plugin BY 'x'},
   * PostgreSQL's {@code PASSWORD 'x'}.
   */
  private static final Pattern SQL_PASSWORD =
      Pattern.compile(
          "(?i)(\\bidentified\\s{1,64}+(?:with\\s{1,64}+[A-Za-z0-9_]{1,64}+\\s{1,64}+)?by"
              + "(?:\\s{1,64}+password)?\\s{1,64}+|\\bpassword\\s{1,64}+(?='))"
              + "('(?!\\*\\*\\*')[^']{0,1024}+'|\"(?!\\*\\*\\*\")[^\"]{0,1024}+\"|(?!\\*\\*\\*)[^\\s;'\"]{1,1024}+)");

  /**
   * Redis: {@code AUTH [user] password} (the command, upper case, at a line's start or after a
   * {@code redis-cli} prompt), {@code requirepass}, {@code masterauth} (configuration, {@code
   * CONFIG SET}).
   */
  private static final Pattern REDIS_AUTH =
      Pattern.compile(
          "(?m)(^[ \\t]{0,64}+(?:\\S{0,64}>[ \\t]{0,4})?AUTH[ \\t]{1,64}+|(?i:\\b(?:requirepass|masterauth|masteruser\\s+\\S+\\s+masterauth)[ \\t]{1,64}+))"
              + "([\"']?)(?!\\*\\*\\*)[^\\s\"']{1,1024}+(?:[ \\t]{1,64}+(?!\\*\\*\\*)[^\\s\"']{1,1024}+)?\\2");

  /**
   * A {@code .netrc} entry: {@code machine host login user password secret}, on one or more lines.
   */
  private static final Pattern NETRC =
      Pattern.compile(
          "(\\bmachine\\s{1,64}+\\S{1,256}+(?:\\s{1,64}+(?:login|account|port)\\s{1,64}+\\S{1,256}+){0,3}"
              + "\\s{1,64}+password\\s{1,64}+)(?!\\*\\*\\*)\\S+");

  /**
   * An environment entry written as a name and a value field (a Kubernetes {@code env} list, an ECS
   * task definition): {@code name: DB_PASSWORD value: x}, {@code {"name": "API_TOKEN", "value":
   * "x"}}. The value goes when the name is secret.
   */
  private static final Pattern NAME_VALUE_PAIR =
      Pattern.compile(
          "(\\bname[\"']?\\s{0,64}+:\\s{0,64}+[\"']?([A-Za-z_][A-Za-z0-9_.-]{0,255}+)[\"']?\\s{0,64}+,?"
              + "\\s{0,64}+[\"']?value[\"']?\\s{0,64}+:\\s{0,64}+)"
              + "(\"(?:[^\"\\\\]|\\\\.){0,8192}+\"|'[^']{0,8192}+'|[^\\s,}\\]\"']{1,1024}+)");

  /**
   * {@code aws configure set aws_secret_access_key VALUE}: a secret name and its value, by a space.
   */
  private static final Pattern AWS_CONFIGURE_SET =
      Pattern.compile(
          "(\\baws\\s+configure\\s+set\\s+([A-Za-z0-9_.-]{1,128}+)\\s+)(?!\\*\\*\\*)[^\\s\"']+");

  /**
   * An AWS access key id followed by its secret key (a {@code credentials.csv} row, a pasted pair):
   * the id names the key and stays, the 40 characters after it go.
   */
  private static final Pattern AWS_KEY_PAIR =
      Pattern.compile(
          "\\b((?:AKIA|ASIA)[A-Z0-9]{16}[\\s,;:|\"']+)(?!\\*\\*\\*)[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])");

  /** The last words of names that are about a secret but hold none: a type, a length, a time. */
  private static final java.util.Set<String> HARMLESS_LAST_WORDS =
      java.util.Set.of(
          "type",
          "length",
          "len",
          "size",
          "count",
          "at",
          "mode",
          "policy",
          "expiry",
          "expires",
          "ttl",
          "endpoint",
          "format",
          "enabled",
          "required");

  private static final Pattern NAME_WORDS = Pattern.compile("[_.\\-]+|(?<=[a-z0-9])(?=[A-Z])");

  /**
   * Masks what looks like a credential in free text before it reaches a log line, an event or an
   * exception message (docs/invariants.md I2): user info in URLs ({@code scheme://user:pass@}, up
   * to the last {@code @} of the authority, or a password holding {@code / ? #}), Oracle's {@code
   * user/password@db}, {@code curl -u user:pass}, {@code mysql -pPASS}, {@code Authorization} and
   * {@code Cookie} headers, bearer tokens, private key blocks (PEM and PGP, also when cut off
   * before their end or after their start; PuTTY key files; base64 holding a private key), tokens
   * of well-known shapes (GitHub, GitLab, Bitbucket, Slack, Discord, Stripe, SendGrid, Mailgun,
   * npm, PyPI, Docker Hub, RubyGems, SonarQube, Vault, Terraform Cloud, New Relic, OpenAI,
   * Anthropic, Hugging Face, Shopify, age, JWT, Google API keys and OAuth tokens, an AWS key id
   * with its secret, a Twilio SID with its secret), webhook URLs (Slack, Discord), OAuth codes in
   * redirects, SQL {@code IDENTIFIED BY} and {@code PASSWORD '...'}, Redis {@code AUTH} and {@code
   * requirepass}, {@code .netrc} entries, environment lists ({@code name: X_TOKEN, value: ...}),
   * YAML block scalars, and the values of every parameter, JSON field, XML element, environment
   * variable or option named like a secret ({@code password}, {@code DURABLE_DEPLOY_S3_SECRET_KEY},
   * {@code aws_secret_access_key}, {@code AccountKey}, {@code accessToken}, {@code --token}...),
   * quoted or not; in a {@code ;}-separated connection string the value runs to the next {@code ;}.
   * A safety net for messages of third-party exceptions and process output; values the library
   * knows to be secret are never put into text in the first place. Scrub a multi-line text as one
   * string: a key block is recognised only whole. Scrubbing twice gives the same text.
   */
  public static String redactCredentials(String text) {
    if (text == null) {
      return null;
    }
    String out = maskPuttyKey(maskPrivateKeys(text));
    out = URL_CUT_PASSWORD.matcher(out).replaceAll("$1" + MASK);
    if (out.indexOf('@') >= 0) {
      // The conventional "git" user of ssh URLs is no secret; any other user info may be a token.
      out =
          URL_USER_INFO
              .matcher(out)
              .replaceAll(
                  m ->
                      Matcher.quoteReplacement(
                          m.group(2).equals("git") ? m.group() : m.group(1) + MASK + "@"));
      out = URL_USER_PASSWORD.matcher(out).replaceAll("$1" + MASK + "@");
      out = USER_SLASH_PASSWORD.matcher(out).replaceAll("$1" + MASK + "@");
      out = BARE_USER_INFO.matcher(out).replaceAll("$1" + MASK + "$2");
    }
    String options = out;
    out =
        USER_OPTION
            .matcher(out)
            .replaceAll(
                m ->
                    Matcher.quoteReplacement(
                        afterUserTool(options, m.start())
                            ? m.group()
                            : m.group(1) + m.group(2) + m.group(3) + MASK));
    out = DASH_P_PASSWORD.matcher(out).replaceAll("$1" + MASK);
    out =
        AUTHORIZATION
            .matcher(out)
            .replaceAll(
                m ->
                    Matcher.quoteReplacement(
                        m.group(1) + (m.group(2) == null ? "" : m.group(2) + " ") + MASK));
    out = COOKIE.matcher(out).replaceAll("$1" + MASK);
    out =
        SQL_PASSWORD
            .matcher(out)
            .replaceAll(m -> Matcher.quoteReplacement(m.group(1) + masked(m.group(2))));
    out = REDIS_AUTH.matcher(out).replaceAll("$1$2" + MASK + "$2");
    if (out.contains("machine")) {
      out = NETRC.matcher(out).replaceAll("$1" + MASK);
    }
    out =
        NAME_VALUE_PAIR
            .matcher(out)
            .replaceAll(
                m ->
                    Matcher.quoteReplacement(
                        isSecretName(m.group(2)) ? m.group(1) + masked(m.group(3)) : m.group()));
    out =
        AWS_CONFIGURE_SET
            .matcher(out)
            .replaceAll(
                m ->
                    Matcher.quoteReplacement(
                        isSecretName(m.group(2)) ? m.group(1) + MASK : m.group()));
    out = maskNamedValues(out);
    out =
        XML_ELEMENT
            .matcher(out)
            .replaceAll(
                m ->
                    Matcher.quoteReplacement(
                        isSecretName(m.group(1))
                            ? "<"
                                + m.group(1)
                                + (m.group(2) == null ? "" : m.group(2))
                                + ">"
                                + MASK
                                + "</"
                                + m.group(1)
                                + ">"
                            : m.group()));
    out = BEARER.matcher(out).replaceAll("$1" + MASK);
    out = AWS_KEY_PAIR.matcher(out).replaceAll("$1" + MASK);
    out = WEBHOOK_PATH.matcher(out).replaceAll("$1" + MASK);
    out = SID_PAIR.matcher(out).replaceAll("$1" + MASK);
    out = OAUTH_CODE.matcher(out).replaceAll("$1" + MASK);
    out = maskBase64Keys(out);
    return TOKEN_SHAPES.matcher(out).replaceAll(MASK);
  }

  /** A value masked, its quotes kept. */
  private static String masked(String value) {
    char first = value.charAt(0);
    return first == '"' || first == '\'' ? first + MASK + first : MASK;
  }

  /**
   * Masks each base64 run that holds a {@link #BASE64_KEY_MARKER}: from the marker out to the run's
   * ends. The scan resumes after the run, so every character is looked at a bounded number of
   * times.
   */
  private static String maskBase64Keys(String text) {
    Matcher m = BASE64_KEY_MARKER.matcher(text);
    if (!m.find()) {
      return text;
    }
    StringBuilder out = new StringBuilder(text.length());
    int copied = 0;
    int from = 0;
    while (from < text.length() && m.find(from)) {
      int start = m.start();
      while (start > copied && isBase64(text.charAt(start - 1))) {
        start--;
      }
      int end = m.end();
      while (end < text.length() && isBase64(text.charAt(end))) {
        end++;
      }
      out.append(text, copied, start).append(MASK);
      copied = end;
      from = end;
    }
    return out.append(text, copied, text.length()).toString();
  }

  /**
   * Masks private key blocks: whole ones between their markers, and the parts of a cut-off one (a
   * truncated line, an output tail that starts inside the key or ends before its last line): the
   * base64 lines and armour headers after a lone first marker, and those before a lone last one.
   */
  private static String maskPrivateKeys(String text) {
    if (!text.contains("PRIVATE KEY")) {
      return text;
    }
    // One pass from marker to marker, each part of the text scanned once, however many markers
    // there are (a reluctant regex from every BEGIN to the end would be quadratic).
    StringBuilder masked = new StringBuilder(text.length());
    Matcher begin = KEY_BEGIN.matcher(text);
    Matcher end = KEY_END.matcher(text);
    boolean endsLeft = true;
    int copied = 0;
    int from = 0;
    while (from < text.length() && begin.find(from)) {
      int bodyStart = begin.end();
      endsLeft = endsLeft && end.find(bodyStart);
      if (endsLeft) {
        masked.append(text, copied, bodyStart).append(MASK);
        copied = end.start();
        from = end.end();
      } else {
        int bodyEnd = keyBodyEnd(text, bodyStart);
        if (bodyEnd > bodyStart && !text.startsWith(MASK, bodyStart)) {
          masked.append(text, copied, bodyStart).append(MASK);
          copied = bodyEnd;
        }
        from = Math.max(bodyEnd, bodyStart);
      }
    }
    String out = masked.append(text, copied, text.length()).toString();
    masked = new StringBuilder(out.length());
    copied = 0;
    end = KEY_END.matcher(out);
    while (end.find()) {
      int[] body = keyBodyBefore(out, end.start(), copied);
      if (body != null) {
        masked.append(out, copied, body[0]).append(MASK).append(out, body[1], end.start());
        copied = end.start();
      }
    }
    return masked.append(out, copied, out.length()).toString();
  }

  /** Where the key body that starts at {@code from} ends: base64 words and armour headers. */
  private static int keyBodyEnd(String s, int from) {
    int end = from;
    int i = from;
    while (true) {
      int word = skipKeySeparators(s, i);
      int k = word;
      if (startsWithArmourHeader(s, k)) {
        while (k < s.length()
            && s.charAt(k) != '\n'
            && s.charAt(k) != '\r'
            && s.charAt(k) != '\\') {
          k++;
        }
      } else {
        while (k < s.length() && isBase64(s.charAt(k))) {
          k++;
        }
      }
      if (k == word) {
        return end;
      }
      end = k;
      i = k;
    }
  }

  /**
   * The key body that ends right before {@code end} (an END marker), as {start, end of its last
   * word}, or null when nothing but separators precedes the marker (a body masked already).
   */
  private static int[] keyBodyBefore(String s, int end, int floor) {
    int lastWordEnd = -1;
    int start = -1;
    int i = end;
    while (true) {
      int word = i;
      while (word > floor && isKeySeparatorBefore(s, word)) {
        word -= escapeBefore(s, word) ? 2 : 1;
      }
      int k = word;
      while (k > floor && isBase64(s.charAt(k - 1)) && !escapeBefore(s, k)) {
        k--;
      }
      if (k == word) {
        return start < 0 ? null : new int[] {start, lastWordEnd};
      }
      if (lastWordEnd < 0) {
        lastWordEnd = word;
      }
      start = k;
      i = k;
    }
  }

  private static int skipKeySeparators(String s, int i) {
    while (i < s.length()) {
      char c = s.charAt(i);
      if (Character.isWhitespace(c)) {
        i++;
      } else if (c == '\\' && i + 1 < s.length() && "nrt".indexOf(s.charAt(i + 1)) >= 0) {
        i += 2; // a key in a JSON string: its line breaks are escaped
      } else {
        return i;
      }
    }
    return i;
  }

  private static boolean isKeySeparatorBefore(String s, int i) {
    return Character.isWhitespace(s.charAt(i - 1)) || escapeBefore(s, i);
  }

  /** Whether {@code \n}, {@code \r} or {@code \t} written as two characters ends at {@code i}. */
  private static boolean escapeBefore(String s, int i) {
    return i >= 2 && s.charAt(i - 2) == '\\' && "nrt".indexOf(s.charAt(i - 1)) >= 0;
  }

  private static boolean startsWithArmourHeader(String s, int i) {
    for (String header : new String[] {"Proc-Type:", "DEK-Info:", "Version:", "Comment:"}) {
      if (s.startsWith(header, i)) {
        return true;
      }
    }
    return false;
  }

  private static boolean isBase64(char c) {
    return (c >= 'A' && c <= 'Z')
        || (c >= 'a' && c <= 'z')
        || (c >= '0' && c <= '9')
        || c == '+'
        || c == '/'
        || c == '=';
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
        boolean escaped = value.startsWith("\\\"");
        boolean braced = first == '{';
        boolean quoted = escaped || braced || first == '"' || first == '\'';
        out.append(text, copied, m.start(3))
            .append(
                escaped
                    ? "\\\"" + MASK + "\\\""
                    : braced ? "{" + MASK + "}" : quoted ? first + MASK + first : MASK);
        int end = m.end();
        if (!quoted && YAML_BLOCK_INDICATOR.matcher(value).matches()) {
          end = yamlBlockEnd(text, m.start(1), end);
          copied = end;
          from = end;
          continue;
        }
        while (!quoted && end < text.length() && isUnquotedValue(text.charAt(end))) {
          end++;
        }
        copied = quoted ? end : connectionStringValueEnd(text, m.start(1), end);
        from = copied;
      } else {
        // The value of a harmless name may itself hold a secret one (note:password=...).
        from = m.start(3);
      }
    }
    return out.append(text, copied, text.length()).toString();
  }

  /** A YAML block scalar's indicator ({@code password: |}): the value is on the lines after it. */
  private static final Pattern YAML_BLOCK_INDICATOR = Pattern.compile("[|>][-+0-9]{0,2}");

  /**
   * Where a YAML block scalar whose indicator ends at {@code indicatorEnd} ends: after the last of
   * the following lines that are blank or indented deeper than the line of its name. When the
   * indicator is not at its line's end it is no block scalar, and nothing after it is taken.
   */
  private static int yamlBlockEnd(String text, int nameStart, int indicatorEnd) {
    int i = indicatorEnd;
    while (i < text.length() && (text.charAt(i) == ' ' || text.charAt(i) == '\r')) {
      i++;
    }
    if (i >= text.length() || text.charAt(i) != '\n') {
      return indicatorEnd; // checked first: the scan back below runs once per line at most
    }
    int lineStart = nameStart;
    while (lineStart > 0 && text.charAt(lineStart - 1) != '\n') {
      lineStart--;
    }
    int indent = 0;
    while (lineStart + indent < nameStart && text.charAt(lineStart + indent) == ' ') {
      indent++;
    }
    int end = indicatorEnd;
    while (i < text.length() && text.charAt(i) == '\n') {
      int next = i + 1;
      int spaces = 0;
      while (next + spaces < text.length() && text.charAt(next + spaces) == ' ') {
        spaces++;
      }
      int lineEnd = text.indexOf('\n', next);
      lineEnd = lineEnd < 0 ? text.length() : lineEnd;
      boolean blank = text.substring(next + spaces, lineEnd).isBlank();
      if (!blank && spaces <= indent) {
        break;
      }
      if (!blank) {
        end = lineEnd > next && text.charAt(lineEnd - 1) == '\r' ? lineEnd - 1 : lineEnd;
      }
      i = lineEnd;
    }
    return end;
  }

  /**
   * Masks the private lines of a PuTTY key file ({@code Private-Lines: N} and the base64 lines
   * after it), which has no PEM markers.
   */
  private static String maskPuttyKey(String text) {
    int at = text.indexOf("Private-Lines:");
    if (at < 0) {
      return text;
    }
    StringBuilder out = new StringBuilder(text.length());
    int copied = 0;
    while (at >= 0) {
      int i = at + "Private-Lines:".length();
      while (i < text.length() && (text.charAt(i) == ' ' || Character.isDigit(text.charAt(i)))) {
        i++;
      }
      int bodyStart = i;
      int end = i;
      while (true) {
        int k = skipKeySeparators(text, i);
        int word = k;
        while (k < text.length() && isBase64(text.charAt(k))) {
          k++;
        }
        // A line of base64 only: the next header ("Private-MAC:") ends the body.
        if (k == word
            || (k < text.length()
                && !Character.isWhitespace(text.charAt(k))
                && text.charAt(k) != '\\')) {
          break;
        }
        end = k;
        i = k;
      }
      if (end > bodyStart && !text.startsWith(MASK, skipKeySeparators(text, bodyStart))) {
        out.append(text, copied, bodyStart).append(' ').append(MASK);
        copied = end;
      }
      at = text.indexOf("Private-Lines:", Math.max(end, at + 1));
    }
    return out.append(text, copied, text.length()).toString();
  }

  private static boolean isUnquotedValue(char c) {
    return !Character.isWhitespace(c) && "&;\"'<>}])".indexOf(c) < 0;
  }

  /**
   * Where an unquoted value ends in a {@code ;}-separated connection string ({@code
   * Server=x;Password=two words;}), whose values may hold spaces: at the next {@code ;} (or the
   * line's end) when the name follows a {@code ;}, or when only spaces and words, no other {@code
   * name=}, lie between the value and the next {@code ;}. Elsewhere a value ends at a space.
   */
  private static int connectionStringValueEnd(String text, int nameStart, int valueEnd) {
    boolean afterSemicolon = nameStart > 0 && text.charAt(nameStart - 1) == ';';
    int i = valueEnd;
    while (i < text.length() && "=;,\r\n\"'<>}])".indexOf(text.charAt(i)) < 0) {
      i++;
    }
    if (i == valueEnd || (i < text.length() && text.charAt(i) != ';' && !afterSemicolon)) {
      return valueEnd;
    }
    if (i < text.length() && text.charAt(i) == '=') {
      return valueEnd;
    }
    if (i == text.length() && !afterSemicolon) {
      return valueEnd;
    }
    return i;
  }

  /**
   * Whether a parameter, field or variable name names a secret: one of its words (split at {@code _
   * . -} and camel case) ends in password, passwd, pwd, passphrase, secret, token, credential(s),
   * or signature, or is sig, pass, auth, session, apikey, privatekey, secretkey or accountkey, or
   * words make api key / private key / account key / Azure storage key / shared access key (not its
   * {@code SharedAccessKeyName}).
   */
  static boolean isSecretName(String name) {
    String[] words = NAME_WORDS.split(name.replaceFirst("^-+", ""));
    if (words.length > 1
        && HARMLESS_LAST_WORDS.contains(
            words[words.length - 1].toLowerCase(java.util.Locale.ROOT))) {
      return false; // token_type, password_changed_at, max_password_length, AUTH_MODE
    }
    for (int i = 0; i < words.length; i++) {
      String w = words[i].toLowerCase(java.util.Locale.ROOT);
      String previous = i > 0 ? words[i - 1].toLowerCase(java.util.Locale.ROOT) : "";
      String before = i > 1 ? words[i - 2].toLowerCase(java.util.Locale.ROOT) : "";
      String next = i + 1 < words.length ? words[i + 1].toLowerCase(java.util.Locale.ROOT) : "";
      if (w.endsWith("password")
          || w.endsWith("passwd")
          || w.endsWith("pwd")
          || w.endsWith("passphrase")
          || w.endsWith("secret")
          || w.endsWith("secretkey")
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
          || w.equals("accountkey")
          || w.equals("sharedaccesskey")
          || w.endsWith("storepass")
          || w.endsWith("keypass")
          || w.equals("requirepass")
          || w.equals("masterauth")
          || w.equals("sessionid")
          || w.equals("sess")) {
        return true;
      }
      if (w.equals("key")
          && (previous.equals("api")
              || previous.equals("private")
              || previous.equals("account")
              || previous.equals("app")
              || (previous.equals("access") && !next.equals("id") && !next.equals("name"))
              || previous.equals("encryption")
              || previous.equals("signing")
              || previous.equals("master")
              || previous.equals("license")
              || previous.equals("subscription")
              || (previous.equals("client") && next.equals("data"))
              || (previous.equals("storage") && before.equals("azure"))
              || (previous.equals("access") && before.equals("shared") && !next.equals("name")))) {
        return true;
      }
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
