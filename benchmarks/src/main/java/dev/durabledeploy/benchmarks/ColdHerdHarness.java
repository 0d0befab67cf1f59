package dev.durabledeploy.benchmarks;

import dev.durabledeploy.git.jgit.JGitRepoSource;
import dev.durabledeploy.spi.git.RepoRef;
import dev.durabledeploy.testkit.fixtures.GitRepos;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * A cold herd: {@code callers} threads released together call {@code ensureClone} on a repository
 * nobody has cloned yet. Measured: how many clones ran (goal 1) and the time until the last caller
 * has its tree, against the time one lone caller takes for the same cold clone in the same run.
 */
final class ColdHerdHarness {

  record Result(int callers, int clones, double herdMillis, double singleMillis) {}

  /** The fixture serves file:// remotes, which a host must allow explicitly. */
  private static final java.util.Set<String> FILE = java.util.Set.of("file");

  private ColdHerdHarness() {}

  static Result run(int callers, int rounds) throws Exception {
    Path dir = Files.createTempDirectory("cold-herd-bench");
    Map<String, String> files = new HashMap<>();
    for (int i = 0; i < 200; i++) {
      files.put("src/file-" + i + ".txt", "line\n".repeat(50) + i);
    }
    RepoRef repo = new GitRepos(dir.resolve("remotes")).commit("bench/herd", files);
    long[] herd = new long[rounds];
    long[] single = new long[rounds];
    int clones = 0;
    ExecutorService pool = Executors.newFixedThreadPool(callers);
    try {
      for (int r = 0; r < rounds; r++) {
        JGitRepoSource alone =
            JGitRepoSource.builder(dir.resolve("single-" + r)).allowedSchemes(FILE).build();
        long t0 = System.nanoTime();
        alone.ensureClone(repo);
        single[r] = System.nanoTime() - t0;

        JGitRepoSource shared =
            JGitRepoSource.builder(dir.resolve("herd-" + r)).allowedSchemes(FILE).build();
        CountDownLatch ready = new CountDownLatch(callers);
        CountDownLatch go = new CountDownLatch(1);
        List<Future<Path>> trees = new ArrayList<>();
        for (int c = 0; c < callers; c++) {
          trees.add(
              pool.submit(
                  () -> {
                    ready.countDown();
                    go.await();
                    return shared.ensureClone(repo);
                  }));
        }
        ready.await();
        long h0 = System.nanoTime();
        go.countDown();
        for (Future<Path> tree : trees) {
          if (!Files.isDirectory(tree.get().resolve("src"))) {
            throw new IllegalStateException("a caller got a tree without its files: " + tree.get());
          }
        }
        herd[r] = System.nanoTime() - h0;
        clones = Math.max(clones, shared.cloneCount());
      }
    } finally {
      pool.shutdownNow();
    }
    return new Result(
        callers, clones, Percentiles.medianMillis(herd), Percentiles.medianMillis(single));
  }
}
