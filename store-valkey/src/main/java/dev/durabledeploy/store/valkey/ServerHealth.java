package dev.durabledeploy.store.valkey;

import dev.durabledeploy.spi.health.Health;
import dev.durabledeploy.spi.health.HealthStatus;
import io.lettuce.core.RedisCommandExecutionException;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * The server settings the store's guarantees rest on, read afresh on every health probe (the
 * start-up check, {@link ServerSettings}, sees them once): {@code maxmemory-policy}, the
 * persistence mode and whether the last save or log write failed.
 *
 * <ul>
 *   <li>An evicting policy is DEGRADED for every part: locks, rows or outbox events may vanish once
 *       memory runs out (see {@link ServerSettings} for which).
 *   <li>A failed RDB save or AOF write ({@code INFO persistence}) is DEGRADED: the server keeps
 *       answering while what it acknowledges is not on disk.
 *   <li>No persistence at all is DEGRADED only for the part that keeps data ({@code holdsData}: the
 *       metadata store), since a restart loses it; locks and leases expire anyway.
 * </ul>
 *
 * A setting the server does not show (CONFIG or INFO renamed, or left out of the user's ACL) is
 * reported {@code unreadable}, not judged: the host vouched for it at start ({@code
 * allowUnverifiedServerSettings}).
 */
final class ServerHealth {

  private static final String UNREADABLE = "unreadable";

  private ServerHealth() {}

  static Health probe(Valkey valkey, boolean holdsData) {
    Map<String, String> config = new HashMap<>();
    boolean configRead =
        valkey.call(
            "health probe (CONFIG GET)",
            () -> {
              for (String name : new String[] {"maxmemory-policy", "appendonly", "save"}) {
                try {
                  config.putAll(valkey.commands().configGet(name));
                } catch (RedisCommandExecutionException e) {
                  if (Valkey.credentialCode(e.getMessage()) != null) {
                    throw e;
                  }
                  return false;
                }
              }
              return true;
            });
    String info =
        valkey.call(
            "health probe (INFO persistence)",
            () -> {
              try {
                return valkey.commands().info("persistence");
              } catch (RedisCommandExecutionException e) {
                if (Valkey.credentialCode(e.getMessage()) != null) {
                  throw e;
                }
                return null;
              }
            });
    Map<String, String> persistence = info == null ? Map.of() : parse(info);

    Map<String, Object> details = new LinkedHashMap<>();
    details.put("server", valkey.server());
    String policy =
        configRead
            ? config.getOrDefault("maxmemory-policy", UNREADABLE).toLowerCase(Locale.ROOT)
            : UNREADABLE;
    details.put("maxmemoryPolicy", policy);
    String mode = configRead ? mode(config) : UNREADABLE;
    details.put("persistence", mode);
    String bgsave = persistence.getOrDefault("rdb_last_bgsave_status", UNREADABLE);
    String aofWrite = persistence.getOrDefault("aof_last_write_status", UNREADABLE);
    details.put("rdbLastBgsaveStatus", bgsave);
    details.put("aofLastWriteStatus", aofWrite);

    HealthStatus status = HealthStatus.UP;
    StringBuilder reasons = new StringBuilder();
    if (!policy.equals(UNREADABLE) && !policy.equals("noeviction")) {
      status = HealthStatus.DEGRADED;
      reasons.append(
          "maxmemory-policy is "
              + policy
              + ": once memory runs out the server drops keys (site locks, and with allkeys-*"
              + " rows and outbox events); set noeviction");
    }
    if (bgsave.equals("err") || aofWrite.equals("err")) {
      status = HealthStatus.DEGRADED;
      append(
          reasons,
          "the server's last "
              + (bgsave.equals("err") ? "RDB save" : "AOF write")
              + " failed: what it acknowledges may not reach the disk (check its disk and log)");
    }
    if (holdsData && mode.equals("none")) {
      status = HealthStatus.DEGRADED;
      append(
          reasons,
          "the server has no persistence (appendonly no, save \"\"): a restart loses the"
              + " metadata; run it with appendonly yes");
    }
    if (!reasons.isEmpty()) {
      details.put("reason", reasons.toString());
    }
    return Health.of(status, details);
  }

  private static String mode(Map<String, String> config) {
    if ("yes".equalsIgnoreCase(config.getOrDefault("appendonly", ""))) {
      return "aof";
    }
    return config.getOrDefault("save", "").isBlank() ? "none" : "rdb";
  }

  private static void append(StringBuilder reasons, String reason) {
    if (!reasons.isEmpty()) {
      reasons.append("; ");
    }
    reasons.append(reason);
  }

  /** {@code key:value} lines of an {@code INFO} section. */
  private static Map<String, String> parse(String info) {
    Map<String, String> values = new HashMap<>();
    for (String line : info.split("\r?\n")) {
      int colon = line.indexOf(':');
      if (colon > 0 && !line.startsWith("#")) {
        values.put(line.substring(0, colon).trim(), line.substring(colon + 1).trim());
      }
    }
    return values;
  }
}
