package dev.durabledeploy.benchmarks;

/**
 * One line of the results table: a figure beside its baseline (measured in the same run) and its
 * goal.
 *
 * @param baselineValue {@link Double#NaN} when the figure has no baseline
 * @param goal what the figure must reach, {@code -} for a figure that is only reported
 */
record Figure(
    String figure,
    double value,
    String unit,
    String baseline,
    double baselineValue,
    String goal,
    boolean pass) {

  /** A figure reported without a baseline or a goal. */
  static Figure reported(String figure, double value, String unit) {
    return new Figure(figure, value, unit, "-", Double.NaN, "-", true);
  }

  /** A figure beside its baseline, reported without a goal. */
  static Figure beside(
      String figure, double value, String unit, String baseline, double baselineValue) {
    return new Figure(figure, value, unit, baseline, baselineValue, "-", true);
  }
}
