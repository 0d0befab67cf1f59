package dev.durabledeploy.benchmarks;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;

/** Latency percentiles of one run as PNG bar charts on a logarithmic axis (milliseconds). */
final class LagChart {

  /** The axis floor: a bar below it is drawn at it. */
  private static final double FLOOR_MILLIS = 0.1;

  private LagChart() {}

  /** The relay lag percentiles: producers × outbox, p50 and p99. */
  static void write(Path png, List<OutboxLoad.Result> results) throws IOException {
    Map<String, List<OutboxLoad.Result>> byOutbox = new LinkedHashMap<>();
    for (OutboxLoad.Result r : results) {
      byOutbox.computeIfAbsent(r.outbox(), k -> new ArrayList<>()).add(r);
    }
    List<String> producers = new ArrayList<>();
    Map<String, List<Double>> series = new LinkedHashMap<>();
    for (var entry : byOutbox.entrySet()) {
      producers = entry.getValue().stream().map(r -> r.producers() + "").toList();
      series.put(
          entry.getKey() + " p50",
          entry.getValue().stream().map(OutboxLoad.Result::lagP50Millis).toList());
      series.put(
          entry.getKey() + " p99",
          entry.getValue().stream().map(OutboxLoad.Result::lagP99Millis).toList());
    }
    bars(png, "Outbox commit -> handler lag on PostgreSQL", "producer threads", producers, series);
  }

  /**
   * One bar per series and category, in the map's order, values in milliseconds; the title says the
   * scale and the floor.
   */
  static void bars(
      Path png,
      String title,
      String xAxisTitle,
      List<String> categories,
      Map<String, List<Double>> seriesMillis)
      throws IOException {
    java.nio.file.Files.createDirectories(png.toAbsolutePath().getParent());
    System.setProperty("java.awt.headless", "true");
    CategoryChart chart =
        new CategoryChartBuilder()
            .width(1400)
            .height(560)
            .title(
                title
                    + " (log scale; below "
                    + FLOOR_MILLIS
                    + " ms drawn as "
                    + FLOOR_MILLIS
                    + " ms)")
            .xAxisTitle(xAxisTitle)
            .yAxisTitle("ms")
            .build();
    // A logarithmic bar chart needs decade bounds (XChart draws bars up from the axis minimum).
    double max =
        seriesMillis.values().stream()
            .flatMap(List::stream)
            .mapToDouble(Double::doubleValue)
            .max()
            .orElse(1);
    chart.getStyler().setYAxisLogarithmic(true);
    chart.getStyler().setYAxisMin(FLOOR_MILLIS);
    chart.getStyler().setYAxisMax(Math.pow(10, Math.ceil(Math.log10(Math.max(10, max)))));
    chart.getStyler().setLegendPosition(org.knowm.xchart.style.Styler.LegendPosition.OutsideE);
    chart.getStyler().setLegendLayout(org.knowm.xchart.style.Styler.LegendLayout.Vertical);
    for (var series : seriesMillis.entrySet()) {
      chart.addSeries(
          series.getKey(),
          categories,
          series.getValue().stream().map(v -> Math.max(FLOOR_MILLIS, v)).toList());
    }
    BitmapEncoder.saveBitmap(chart, png.toString(), BitmapEncoder.BitmapFormat.PNG);
  }
}
