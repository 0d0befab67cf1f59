package dev.durabledeploy.core.jobs;

import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The default process identity, {@code <host>-<pid>-<nonce>}, that every claim and lease owner
 * starts with. It lets a lease sweep tell a lease of this host's previous incarnation (same host,
 * dead pid) from a live one.
 */
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
