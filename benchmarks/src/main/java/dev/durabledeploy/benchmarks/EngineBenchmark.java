package dev.durabledeploy.benchmarks;

import dev.durabledeploy.engine.executor.ExecutorEngine;
import dev.durabledeploy.spi.engine.Submission;
import dev.durabledeploy.spi.engine.WorkflowDefinition;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * No-op workflow runs through {@link ExecutorEngine} versus the same number of no-op tasks on a raw
 * {@link ThreadPoolExecutor} with as many threads, measured in one run. Goal: engine ≥ 0.7× raw.
 * Each invocation pushes 10,000 runs over 1,000 keys and waits until all finished.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 2)
@Fork(1)
public class EngineBenchmark {

  static final int RUNS = 10_000;
  static final int KEYS = 1_000;
  static final int THREADS = 4;

  ExecutorEngine engine;
  ThreadPoolExecutor pool;

  @Setup(Level.Trial)
  public void setUp() {
    engine = ExecutorEngine.builder().workers(THREADS).build();
    engine.register(WorkflowDefinition.named("noop").keyedBy("key").handler(ctx -> {}));
    engine.start();
    pool =
        new ThreadPoolExecutor(THREADS, THREADS, 0, TimeUnit.SECONDS, new LinkedBlockingQueue<>());
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    engine.close();
    pool.shutdownNow();
  }

  private static final Map<String, String>[] INPUTS = inputs();

  @SuppressWarnings("unchecked")
  private static Map<String, String>[] inputs() {
    Map<String, String>[] inputs = new Map[KEYS];
    for (int k = 0; k < KEYS; k++) {
      inputs[k] = Map.of("key", "k" + k);
    }
    return inputs;
  }

  @Benchmark
  @OperationsPerInvocation(RUNS)
  public void executorEngine() {
    CompletableFuture<?>[] done = new CompletableFuture<?>[RUNS];
    for (int i = 0; i < RUNS; i++) {
      done[i] = engine.submit(Submission.of("noop", INPUTS[i % KEYS])).toCompletableFuture();
    }
    CompletableFuture.allOf(done).join();
  }

  @Benchmark
  @OperationsPerInvocation(RUNS)
  public void rawThreadPool() throws InterruptedException {
    CountDownLatch done = new CountDownLatch(RUNS);
    for (int i = 0; i < RUNS; i++) {
      pool.execute(done::countDown);
    }
    done.await();
  }
}
