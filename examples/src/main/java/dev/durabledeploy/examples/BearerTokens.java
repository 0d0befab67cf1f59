package dev.durabledeploy.examples;

import dev.durabledeploy.spi.Actor;
import dev.durabledeploy.spi.exception.ConfigurationException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * The bearer tokens a host gives {@link DeployServer}, each proving one {@link Actor}. Only the
 * tokens' SHA-256 digests are kept, and a presented token is compared against every one of them in
 * constant time, so neither the time an answer takes nor a heap dump tells a token. Nothing here
 * logs or prints a token; {@link #toString()} shows the actors only.
 */
public final class BearerTokens {

  /** The environment variable {@link DeployServiceMain} reads: {@code actor=token,...}. */
  public static final String ENV = "DURABLE_DEPLOY_TOKENS";

  /** Shortest token accepted: 128 bits of hex, or about 22 characters of base64. */
  public static final int MIN_TOKEN_LENGTH = 20;

  // RFC 6750's token68: what may follow "Bearer " in the header.
  private static final Pattern TOKEN68 = Pattern.compile("[A-Za-z0-9._~+/-]+=*");

  private record Entry(byte[] digest, Actor actor) {}

  private final List<Entry> entries;

  private BearerTokens(List<Entry> entries) {
    this.entries = List.copyOf(entries);
  }

  /** No tokens: every mutation is refused. */
  public static BearerTokens none() {
    return new BearerTokens(List.of());
  }

  /**
   * Tokens mapped to the actor each proves.
   *
   * @throws ConfigurationException (property {@value #ENV}) for a token shorter than {@value
   *     #MIN_TOKEN_LENGTH} characters or outside RFC 6750's token characters; the message names the
   *     actor, never the token
   */
  public static BearerTokens of(Map<String, Actor> tokens) {
    List<Entry> entries = new ArrayList<>();
    for (Map.Entry<String, Actor> e : tokens.entrySet()) {
      Actor actor = e.getValue();
      String token = e.getKey();
      if (token == null || token.length() < MIN_TOKEN_LENGTH) {
        throw new ConfigurationException(
            ENV,
            "the token of actor '"
                + actor
                + "' is shorter than "
                + MIN_TOKEN_LENGTH
                + " characters; generate one with: openssl rand -hex 32");
      }
      if (!TOKEN68.matcher(token).matches()) {
        throw new ConfigurationException(
            ENV,
            "the token of actor '"
                + actor
                + "' may hold only letters, digits and -._~+/ (then '=' padding)");
      }
      entries.add(new Entry(sha256(token), actor));
    }
    return new BearerTokens(entries);
  }

  /**
   * Parses {@code actor=token} pairs separated by commas ({@code
   * user:alice=3f9c...,ci:deploy-bot=a71e...}); the actor ends at the first {@code '='}. Null or
   * blank: no tokens.
   *
   * @throws ConfigurationException (property {@value #ENV}) for a pair without {@code '='}, an
   *     invalid actor, or a token {@link #of} refuses; never showing a token
   */
  public static BearerTokens parse(String spec) {
    if (spec == null || spec.isBlank()) {
      return none();
    }
    Map<String, Actor> tokens = new LinkedHashMap<>();
    int n = 0;
    for (String pair : spec.split(",")) {
      n++;
      String trimmed = pair.trim();
      int eq = trimmed.indexOf('=');
      if (eq <= 0 || eq == trimmed.length() - 1) {
        throw new ConfigurationException(
            ENV, "entry " + n + " is not 'actor=token'; separate entries with commas");
      }
      Actor actor;
      try {
        actor = Actor.of(trimmed.substring(0, eq).trim());
      } catch (RuntimeException e) {
        throw new ConfigurationException(ENV, "entry " + n + ": " + e.getMessage());
      }
      if (tokens.putIfAbsent(trimmed.substring(eq + 1).trim(), actor) != null) {
        throw new ConfigurationException(
            ENV, "entry " + n + " repeats an earlier entry's token; give each actor its own");
      }
    }
    return of(tokens);
  }

  /** The actor {@code token} proves, or empty; takes the same time whichever token matches. */
  public Optional<Actor> actorFor(String token) {
    if (token == null) {
      return Optional.empty();
    }
    byte[] digest = sha256(token);
    Actor found = null;
    for (Entry e : entries) {
      // No early exit: every entry is compared, whether one matched already or not.
      if (MessageDigest.isEqual(e.digest(), digest)) {
        found = e.actor();
      }
    }
    return Optional.ofNullable(found);
  }

  /** Whether no token is configured. */
  public boolean isEmpty() {
    return entries.isEmpty();
  }

  @Override
  public String toString() {
    return "BearerTokens" + entries.stream().map(e -> e.actor().value()).toList();
  }

  private static byte[] sha256(String token) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JDK has SHA-256", e);
    }
  }
}
