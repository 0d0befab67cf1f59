package dev.durabledeploy.core.jobs;

import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The default process identity, {@code <host>-<pid>-<nonce>}, that {@link
 * dev.durabledeploy.core.DurableDeploy} gives a process unless the host names it.
 *
 * @deprecated no longer used to decide anything: a host name and a process id do not tell a dead
 *     process from a live replica on another machine. The lease sweep asks the store instead (every
 *     {@link JobRunner} registers its incarnation there). Kept for source compatibility.
 */
@Deprecated
public record InstanceId(String host, long pid, String nonce) {

  private static final Pattern FORMAT = Pattern.compile("(.+)-(\\d+)-([0-9a-f]{8})");

  /** Parses an owner or instance id; anything after {@code #} (a per-job suffix) is ignored. */
  public static Optional<InstanceId> parse(String owner) {
    String id = owner.contains("#") ? owner.substring(0, owner.indexOf('#')) : owner;
    Matcher m = FORMAT.matcher(id);
    if (!m.matches()) {
      return Optional.empty();
    }
    return Optional.of(new InstanceId(m.group(1), Long.parseLong(m.group(2)), m.group(3)));
  }

  @Override
  public String toString() {
    return host + "-" + pid + "-" + nonce;
  }
}
