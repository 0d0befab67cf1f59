package dev.durabledeploy.benchmarks;

import dev.durabledeploy.engine.executor.ExecutorEngine;
import dev.durabledeploy.engine.temporal.TemporalEngine;
import dev.durabledeploy.spi.engine.Submission;
import dev.durabledeploy.spi.engine.WorkflowDefinition;
import dev.durabledeploy.spi.engine.WorkflowEngine;
import io.temporal.testing.TestEnvironmentOptions;
import io.temporal.testing.TestWorkflowEnvironment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * {@code ExecutorEngine} and {@code TemporalEngine} side by side in one run, on the same no-op
 * workflow: how long a submission takes to be accepted (what the relay waits for before it acks),
 * how long until the handler ran, and how many runs per second 50 keys get through. Temporal here
 * is the SDK's in-process test server, so the figures are the engine's own overhead plus one
 * in-process server, not a production cluster's.
 *
 * <pre>
 * mvn -B -pl benchmarks -am package -DskipTests
 * java -cp benchmarks/target/benchmarks.jar dev.durabledeploy.benchmarks.TemporalHarness
 * </pre>
 */
public final class TemporalHarness {

  static final int LATENCY_RUNS = 300;
  static final int KEYS = 50;
  static final int RUNS_PER_KEY = 20;

  private TemporalHarness() {}

  record Result(String engine, Percentiles accepted, Percentiles handled, double runsPerSecond) {}

  public static void main(String[] args) throws Exception {
    List<Result> results = new ArrayList<>();
    try (TestWorkflowEnvironment env =
        TestWorkflowEnvironment.newInstance(
            TestEnvironmentOptions.newBuilder().setUseTimeskipping(false).build())) {
      int round = 0;
      Supplier<WorkflowEngine> executor = () -> ExecutorEngine.builder().build();
      for (int i = 0; i < 2; i++) { // alternate, twice each: the machine is noisy
        results.add(measure("executor", executor.get()));
        String queue = "bench-" + (round++);
        results.add(
            measure(
                "temporal (test server)",
                TemporalEngine.builder()
                    .client(env.getWorkflowClient())
                    .taskQueue(queue)
                    .workflowIdPrefix(queue)
                    .build()));
      }
    }
    System.out.println(
        "| engine | accepted p50 / p99 (ms) | handler ran p50 / p99 (ms) | runs/s, 50 keys x 20 |");
    System.out.println("| --- | --- | --- | --- |");
    for (Result r : results) {
      System.out.printf(
          Locale.ROOT,
          "| %s | %.2f / %.2f | %.2f / %.2f | %.0f |%n",
          r.engine(),
          r.accepted().micros(50) / 1000,
          r.accepted().micros(99) / 1000,
          r.handled().micros(50) / 1000,
          r.handled().micros(99) / 1000,
          r.runsPerSecond());
    }
    System.exit(0);
  }

  private static Result measure(String name, WorkflowEngine engine) throws Exception {
    Map<String, CompletableFuture<Long>> done = new ConcurrentHashMap<>();
    CountDownLatch[] bulk = {new CountDownLatch(0)};
    engine.register(
        WorkflowDefinition.named("noop")
            .keyedBy("key")
            .handler(
                ctx -> {
                  String n = ctx.input().get("n");
                  if (n != null) {
                    done.get(n).complete(System.nanoTime());
                  } else {
                    bulk[0].countDown();
                  }
                }));
    engine.start();
    try {
      long[] accepted = new long[LATENCY_RUNS];
      long[] handled = new long[LATENCY_RUNS];
      for (int i = 0; i < LATENCY_RUNS; i++) {
        String n = Integer.toString(i);
        done.put(n, new CompletableFuture<>());
        long start = System.nanoTime();
        engine
            .submit(Submission.of("noop", Map.of("key", "k" + (i % 5), "n", n)))
            .toCompletableFuture()
            .get(30, TimeUnit.SECONDS);
        accepted[i] = System.nanoTime() - start;
        handled[i] = done.get(n).get(30, TimeUnit.SECONDS) - start;
      }
      bulk[0] = new CountDownLatch(KEYS * RUNS_PER_KEY);
      long start = System.nanoTime();
      for (int r = 0; r < RUNS_PER_KEY; r++) {
        for (int k = 0; k < KEYS; k++) {
          engine.submit(Submission.of("noop", Map.of("key", "bulk-" + k)));
        }
      }
      if (!bulk[0].await(5, TimeUnit.MINUTES)) {
        throw new IllegalStateException(name + ": bulk runs did not finish in 5 minutes");
      }
      double seconds = (System.nanoTime() - start) / 1e9;
      return new Result(
          name, new Percentiles(accepted), new Percentiles(handled), KEYS * RUNS_PER_KEY / seconds);
    } finally {
      engine.stop(Duration.ofSeconds(5));
    }
  }
}
