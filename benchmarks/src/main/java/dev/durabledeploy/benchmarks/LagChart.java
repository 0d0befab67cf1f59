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

/** The relay lag percentiles of one run as a PNG bar chart: producers × outbox, p50 and p99. */
final class LagChart {

  private LagChart() {}

  static void write(Path png, List<OutboxLoad.Result> results) throws IOException {
    System.setProperty("java.awt.headless", "true");
    CategoryChart chart =
        new CategoryChartBuilder()
            .width(1400)
            .height(560)
            .title(
                "Outbox commit -> handler lag on PostgreSQL (log scale; below 0.1 ms drawn as 0.1 ms)")
            .xAxisTitle("producer threads")
            .yAxisTitle("lag (ms)")
            .build();
    // A logarithmic bar chart needs decade bounds (XChart draws bars up from the axis minimum).
    double max = results.stream().mapToDouble(OutboxLoad.Result::lagP99Millis).max().orElse(1);
    chart.getStyler().setYAxisLogarithmic(true);
    chart.getStyler().setYAxisMin(0.1);
    chart.getStyler().setYAxisMax(Math.pow(10, Math.ceil(Math.log10(Math.max(10, max)))));
    chart.getStyler().setLegendPosition(org.knowm.xchart.style.Styler.LegendPosition.OutsideE);
    chart.getStyler().setLegendLayout(org.knowm.xchart.style.Styler.LegendLayout.Vertical);
    Map<String, List<OutboxLoad.Result>> byOutbox = new LinkedHashMap<>();
    for (OutboxLoad.Result r : results) {
      byOutbox.computeIfAbsent(r.outbox(), k -> new ArrayList<>()).add(r);
    }
    for (var entry : byOutbox.entrySet()) {
      List<String> producers = entry.getValue().stream().map(r -> r.producers() + "").toList();
      chart.addSeries(
          entry.getKey() + " p50",
          producers,
          entry.getValue().stream().map(r -> Math.max(0.1, r.lagP50Millis())).toList());
      chart.addSeries(
          entry.getKey() + " p99",
          producers,
          entry.getValue().stream().map(r -> Math.max(0.1, r.lagP99Millis())).toList());
    }
    BitmapEncoder.saveBitmap(chart, png.toString(), BitmapEncoder.BitmapFormat.PNG);
  }
}
