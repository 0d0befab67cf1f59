package dev.durabledeploy.core.jobs;

import dev.durabledeploy.spi.JobKey;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * How a process start (an incarnation) is named and registered in the store, so that the lease
 * sweep can tell a dead holder from a live one by asking the store, never by guessing from host
 * names and process ids (replicas with host networking share a host name, and a process id means
 * nothing on another machine).
 *
 * <p>An incarnation is {@code <instanceId>@<16 random hex digits>}, new for every {@link JobRunner}
 * (so for every process start, even when the host gives every start the same instance id). While
 * its runner is open it holds the registration lease {@code durable-deploy/incarnation/<hex>},
 * renewed with its jobs' heartbeats and released on close; its jobs' lease owners are {@code
 * <incarnation>#<n>}. A job lease whose owner names an incarnation without a live registration
 * belongs to a process that closed or stopped renewing anything: it is dead.
 */
final class Incarnations {

  static final String KEY_PREFIX = "durable-deploy/incarnation/";
  private static final Pattern JOB_OWNER = Pattern.compile("(.+@([0-9a-f]{16}))#[0-9]+");
  private static final SecureRandom RANDOM = new SecureRandom();

  private Incarnations() {}

  static String newToken() {
    byte[] bytes = new byte[8];
    RANDOM.nextBytes(bytes);
    return HexFormat.of().formatHex(bytes);
  }

  static JobKey registration(String token) {
    return JobKey.of(KEY_PREFIX + token);
  }

  static boolean isRegistration(JobKey key) {
    return key.value().startsWith(KEY_PREFIX);
  }

  /** The incarnation a job lease owner of this library names, if it is one. */
  static Optional<String> ofJobOwner(String owner) {
    Matcher m = JOB_OWNER.matcher(owner);
    return m.matches() ? Optional.of(m.group(1)) : Optional.empty();
  }
}
