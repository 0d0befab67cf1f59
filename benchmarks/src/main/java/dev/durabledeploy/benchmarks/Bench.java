package dev.durabledeploy.benchmarks;

import java.nio.file.Path;
import java.util.List;

/**
 * What every section of the {@link Suite} shares: the durable PostgreSQL server (library and
 * baselines always on the same one), the results directory (for charts) and the run's date.
 */
record Bench(DurablePostgres postgres, Path out, String date) {

  /** One part of the suite: measures and returns its figures, each beside its baseline. */
  @FunctionalInterface
  interface Section {
    List<Figure> run(Bench bench) throws Exception;
  }
}
