package dev.durabledeploy.benchmarks;

import java.util.Arrays;

/** Latency samples in nanoseconds and their percentiles. */
final class Percentiles {

  private final long[] sorted;

  Percentiles(long[] samples) {
    this.sorted = samples.clone();
    Arrays.sort(sorted);
  }

  /** The p-th percentile in microseconds, nearest-rank. */
  double micros(double p) {
    int rank = (int) Math.ceil(p / 100.0 * sorted.length);
    return sorted[Math.max(0, Math.min(sorted.length - 1, rank - 1))] / 1000.0;
  }

  /** The median of a few timings (nanoseconds), in milliseconds. */
  static double medianMillis(long[] nanos) {
    return new Percentiles(nanos).micros(50) / 1000;
  }
}
