package dev.durabledeploy.spi.outbox;

import dev.durabledeploy.spi.Inputs;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.exception.InvalidInputException;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * An event to append to the outbox.
 *
 * @param site the site it belongs to; delivery is ordered per site (docs/invariants.md E3)
 * @param type a dotted lowercase name, e.g. {@code alias.changed}
 * @param payload flat string attributes (at most 64 KiB in all), so every backend can store them
 *     natively; kept sorted by key
 */
public record NewEvent(SiteId site, String type, Map<String, String> payload) {

  public static final int MAX_PAYLOAD_BYTES = 64 * 1024;
  private static final Pattern TYPE = Pattern.compile("[a-z][a-z0-9_.-]{0,63}");
  private static final Pattern KEY = Pattern.compile("[A-Za-z][A-Za-z0-9_.-]{0,63}");

  public NewEvent {
    Objects.requireNonNull(site, "site");
    Inputs.requireMatch("type", type, 64, TYPE, "must match [a-z][a-z0-9_.-]{0,63}");
    Objects.requireNonNull(payload, "payload");
    TreeMap<String, String> sorted = new TreeMap<>();
    long bytes = 0;
    for (Map.Entry<String, String> e : payload.entrySet()) {
      Inputs.requireMatch("payload key", e.getKey(), 64, KEY, "must match [A-Za-z][A-Za-z0-9_.-]*");
      if (e.getValue() == null) {
        throw new InvalidInputException("payload." + e.getKey(), "is null");
      }
      bytes += e.getKey().length() + e.getValue().getBytes(StandardCharsets.UTF_8).length;
      sorted.put(e.getKey(), e.getValue());
    }
    if (bytes > MAX_PAYLOAD_BYTES) {
      throw new InvalidInputException("payload", "is larger than " + MAX_PAYLOAD_BYTES + " bytes");
    }
    payload = java.util.Collections.unmodifiableMap(sorted);
  }
}
