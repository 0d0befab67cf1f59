package dev.durabledeploy.benchmarks;

import java.util.Locale;

/** Where the suite's wall time goes, part by part (the suite's budget is 8 minutes). */
final class Laps {
  private final long start = System.nanoTime();
  private long last = start;
  private final StringBuilder parts = new StringBuilder();

  void lap(String part) {
    long now = System.nanoTime();
    String lap = String.format(Locale.ROOT, "%s %.0f s", part, (now - last) / 1e9);
    System.err.println("[suite] " + lap);
    parts.append(parts.length() == 0 ? "" : "; ").append(lap);
    last = now;
  }

  String summary() {
    return String.format(
        Locale.ROOT,
        "The suite took %.0f s from its start to writing these results (budget 480 s): %s.",
        (System.nanoTime() - start) / 1e9,
        parts);
  }
}
