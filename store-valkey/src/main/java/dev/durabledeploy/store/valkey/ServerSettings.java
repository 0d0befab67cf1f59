package dev.durabledeploy.store.valkey;

import dev.durabledeploy.spi.exception.ConfigurationException;
import io.lettuce.core.RedisCommandExecutionException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * The server settings the store's guarantees rest on, read once at start with {@code CONFIG GET}:
 *
 * <ul>
 *   <li>{@code maxmemory-policy} must be {@code noeviction}: a full server then refuses writes (a
 *       transient error the store reports) instead of dropping keys. {@code volatile-*} evicts the
 *       keys with a time to live first, and the site locks are the only ones, so a held lock
 *       vanishes and a second host takes the site; {@code allkeys-*} evicts anything, deploy rows
 *       and outbox events included. Refused unless the host accepts the risk.
 *   <li>Persistence ({@code appendonly}, {@code appendfsync}, {@code save}): missing or weak
 *       persistence is a warning, not a refusal, because it is right for a server that holds only
 *       locks and leases (both expire anyway) or for tests, and wrong only when it holds the
 *       metadata or the outbox, which the store cannot tell.
 *   <li>A server that does not answer {@code CONFIG GET} (managed services rename or forbid it; an
 *       ACL may leave it out) is refused unless the host vouches for its settings, since the
 *       default policy of some services is {@code volatile-lru}.
 * </ul>
 *
 * Settings changed on the server after the store started are not seen.
 */
final class ServerSettings {

  private static final List<String> READ =
      List.of("maxmemory-policy", "appendonly", "appendfsync", "save");

  private ServerSettings() {}

  /**
   * Reads and judges the settings: throws {@link ConfigurationException} for what is refused and
   * returns the warnings (each to be logged) for what is accepted with a risk.
   */
  static List<String> check(Valkey valkey, boolean allowEviction, boolean allowUnverified) {
    Map<String, String> values = new HashMap<>();
    String refusal =
        valkey.call(
            "reading the server's settings (CONFIG GET)",
            () -> {
              for (String name : READ) {
                try {
                  values.putAll(valkey.commands().configGet(name));
                } catch (RedisCommandExecutionException e) {
                  if (Valkey.credentialCode(e.getMessage()) != null) {
                    throw e;
                  }
                  return Valkey.clean(e.getMessage());
                }
              }
              return values.containsKey("maxmemory-policy")
                  ? null
                  : "it answered nothing for maxmemory-policy";
            });
    String server = valkey.server();
    List<String> warnings = new ArrayList<>();
    if (refusal != null) {
      if (!allowUnverified) {
        throw new ConfigurationException(
            "maxmemory-policy",
            "cannot be read on "
                + server
                + ": CONFIG GET was refused ("
                + refusal
                + "), as managed services that rename or forbid CONFIG do. The store needs"
                + " maxmemory-policy noeviction (an evicting policy drops site locks or outbox"
                + " events) and, where it keeps the metadata or the outbox, appendonly yes. Set"
                + " them in the service's configuration (e.g. its parameter group) and start with"
                + " ValkeyStore.builder().allowUnverifiedServerSettings(true), or grant the"
                + " store's user +config|get");
      }
      warnings.add(
          "could not read the settings of "
              + server
              + " (CONFIG GET refused: "
              + refusal
              + "); starting because allowUnverifiedServerSettings(true) was set. The server must"
              + " run maxmemory-policy noeviction, or it can evict site locks (two hosts then"
              + " write one site) and outbox events; and appendonly yes where it keeps the"
              + " metadata or the outbox, or a restart loses them");
      return warnings;
    }
    String policy = values.get("maxmemory-policy").toLowerCase(Locale.ROOT);
    if (!policy.equals("noeviction")) {
      String risk = evictionRisk(policy);
      if (!allowEviction) {
        throw new ConfigurationException(
            "maxmemory-policy",
            "is "
                + policy
                + " on "
                + server
                + ": "
                + risk
                + ". Set maxmemory-policy noeviction (CONFIG SET maxmemory-policy noeviction, and"
                + " in the server's configuration so that it survives a restart): a full server"
                + " then refuses writes, which the store reports as a transient error, instead of"
                + " dropping keys. To start anyway and accept the risk, build with"
                + " allowEvictionPolicy(true)");
      }
      warnings.add(
          "maxmemory-policy is "
              + policy
              + " on "
              + server
              + " and allowEvictionPolicy(true) accepts it: "
              + risk
              + "; set maxmemory-policy noeviction to remove the risk");
    }
    persistence(values, server).ifPresent(warnings::add);
    return warnings;
  }

  private static String evictionRisk(String policy) {
    if (policy.startsWith("volatile")) {
      return "once maxmemory is reached the server evicts keys with a time to live first, and"
          + " the site locks are the only such keys: a site lock still held vanishes and a second"
          + " host takes the site, so two hosts write one site at once";
    }
    return "once maxmemory is reached the server evicts any key: a deploy, alias or tombstone row,"
        + " an outbox event (skipped, so its consumers never see it) or a site lock still held";
  }

  private static Optional<String> persistence(Map<String, String> v, String server) {
    String aof = v.getOrDefault("appendonly", "").toLowerCase(Locale.ROOT);
    String fsync = v.getOrDefault("appendfsync", "").toLowerCase(Locale.ROOT);
    String save = v.getOrDefault("save", "").trim();
    String scope =
        " (fine for a server that holds only site locks and leases, not for one that holds the"
            + " metadata or the outbox: run that one with appendonly yes)";
    if (aof.equals("yes")) {
      if (fsync.equals("no")) {
        return Optional.of(
            server
                + " runs appendfsync no: the OS decides when the log reaches the disk, so a crash"
                + " of the machine can lose many seconds of acknowledged writes; use everysec, or"
                + " always to lose nothing acknowledged");
      }
      return Optional.empty();
    }
    if (save.isEmpty()) {
      return Optional.of(
          server
              + " has no persistence (appendonly no, save \"\"): a restart loses every key this"
              + " store keeps there"
              + scope);
    }
    return Optional.of(
        server
            + " persists only RDB snapshots (appendonly no, save "
            + save
            + "): a crash loses every write since the last snapshot"
            + scope);
  }
}
