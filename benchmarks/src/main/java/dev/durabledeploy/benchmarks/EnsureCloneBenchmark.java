package dev.durabledeploy.benchmarks;

import dev.durabledeploy.git.jgit.JGitRepoSource;
import dev.durabledeploy.spi.git.RepoRef;
import dev.durabledeploy.testkit.fixtures.GitRepos;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The warm path of {@link JGitRepoSource#ensureClone}: the scheme check, the cache key and two
 * stats (the marker and the tree's {@code .git}). Goal: p99 ≤ 50 µs.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 2)
@Fork(1)
public class EnsureCloneBenchmark {

  JGitRepoSource source;
  RepoRef repo;

  @Setup
  public void setUp() throws Exception {
    Path dir = Files.createTempDirectory("ensure-clone-bench");
    repo =
        new GitRepos(dir.resolve("remotes"))
            .commit("bench/web", Map.of("index.html", "<h1>hi</h1>"));
    // The fixture serves file:// remotes, which a host must allow explicitly.
    source =
        JGitRepoSource.builder(dir.resolve("trees"))
            .allowedSchemes(java.util.Set.of("file"))
            .build();
    source.ensureClone(repo);
  }

  @Benchmark
  public Path warmEnsureClone() {
    return source.ensureClone(repo);
  }
}
