package dev.durabledeploy.store.valkey;

import java.time.Clock;
import java.time.Instant;
import java.time.temporal.ChronoUnit;

/**
 * Times as the scripts see them: epoch microseconds in decimal, exact in a Lua number and a sorted
 * set score (below 2^53 until the year 2255). Like PostgreSQL, the store keeps microseconds.
 */
final class Micros {

  private Micros() {}

  static Instant now(Clock clock) {
    return truncate(clock.instant());
  }

  /** {@code at} as the store will give it back. */
  static Instant truncate(Instant at) {
    return at.truncatedTo(ChronoUnit.MICROS);
  }

  static String of(Instant at) {
    return Long.toString(
        Math.addExact(Math.multiplyExact(at.getEpochSecond(), 1_000_000L), at.getNano() / 1_000L));
  }

  /** {@code null} for {@code null} or an empty field. */
  static Instant parse(String micros) {
    if (micros == null || micros.isEmpty()) {
      return null;
    }
    long value = Long.parseLong(micros);
    return Instant.ofEpochSecond(
        Math.floorDiv(value, 1_000_000L), Math.floorMod(value, 1_000_000L) * 1_000L);
  }
}
