package dev.durabledeploy.engine.temporal;

import dev.durabledeploy.spi.engine.RunId;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * How the engine names what it creates in Temporal. Every id starts with the engine's prefix, so
 * several planes can share a namespace, and a run id says where its run lives, so any host finds
 * its key workflow without a lookup:
 *
 * <ul>
 *   <li>key workflow: {@code <prefix>/<workflow>/<key token>}
 *   <li>run: {@code <workflow>:<key token>:<uuid>}
 *   <li>cron workflow: {@code <prefix>/cron/<schedule id>}
 *   <li>dead-letter registry: {@code <prefix>/dead-letters}
 * </ul>
 */
final class WorkflowIds {

  private static final Pattern PLAIN_KEY = Pattern.compile("[A-Za-z0-9._@-]{1,90}");

  private final String prefix;

  WorkflowIds(String prefix) {
    this.prefix = prefix;
  }

  /**
   * A key as it appears in workflow and run ids: {@code k.<key>} when it is short and plain, else
   * {@code h.<sha-256 prefix>} (two keys sharing a hash would share a queue: slower, never wrong).
   */
  static String keyToken(String key) {
    if (PLAIN_KEY.matcher(key).matches()) {
      return "k." + key;
    }
    try {
      byte[] hash =
          MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8));
      return "h." + HexFormat.of().formatHex(hash, 0, 16);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JDK has SHA-256", e);
    }
  }

  String keyWorkflow(RunAddress address) {
    return prefix + "/" + address.workflow() + "/" + address.token();
  }

  String cron(String scheduleId) {
    return prefix + "/cron/" + scheduleId;
  }

  String registry() {
    return prefix + "/dead-letters";
  }

  /** Where a run lives: its library workflow and key token, the first two parts of its id. */
  record RunAddress(String workflow, String token) {

    static RunAddress of(String workflow, String key) {
      return new RunAddress(workflow, keyToken(key));
    }

    /** Empty for an id this engine did not give out. */
    static Optional<RunAddress> of(RunId id) {
      String[] parts = id.value().split(":", 3);
      return parts.length == 3 ? Optional.of(new RunAddress(parts[0], parts[1])) : Optional.empty();
    }

    String runId(String uuid) {
      return workflow + ":" + token + ":" + uuid;
    }
  }
}
