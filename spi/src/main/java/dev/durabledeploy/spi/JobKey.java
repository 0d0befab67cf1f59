package dev.durabledeploy.spi;

import java.util.regex.Pattern;

/**
 * The identity of a long-running job guarded by a lease, e.g. {@code clone:acme/web} or {@code
 * index:site-a}: {@code [A-Za-z0-9][A-Za-z0-9:._/@-]{0,199}}.
 */
public record JobKey(String value) implements Comparable<JobKey> {

  private static final Pattern KEY = Pattern.compile("[A-Za-z0-9][A-Za-z0-9:._/@-]{0,199}");

  public JobKey {
    Inputs.requireMatch(
        "jobKey", value, 200, KEY, "must match [A-Za-z0-9][A-Za-z0-9:._/@-]{0,199}");
  }

  public static JobKey of(String value) {
    return new JobKey(value);
  }

  @Override
  public int compareTo(JobKey other) {
    return value.compareTo(other.value);
  }

  @Override
  public String toString() {
    return value;
  }
}
