package dev.durabledeploy.core.jobs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.durabledeploy.core.events.Operations;
import dev.durabledeploy.core.retry.Retrier;
import dev.durabledeploy.spi.JobKey;
import dev.durabledeploy.spi.exception.DurableDeployException;
import dev.durabledeploy.spi.lease.JobLeases;
import dev.durabledeploy.spi.lease.Lease;
import dev.durabledeploy.spi.retry.RetryPolicy;
import dev.durabledeploy.store.memory.InMemoryStore;
import dev.durabledeploy.testkit.MutableClock;
import dev.durabledeploy.testkit.RecordingEventBus;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

@DisplayName("job recovery (E4)")
class JobRunnerTest {

  private static final JobKey JOB = JobKey.of("index:site-a");
  private static final String SELF = "build-host-" + ProcessHandle.current().pid() + "-0000abcd";

  @Test
  @DisplayName("a second caller while the job runs is told 'already running' at once")
  void alreadyRunning() throws Exception {
    InMemoryStore store = new InMemoryStore();
    try (JobRunner runner = new JobRunner(store.jobLeases(), SELF, Duration.ofMinutes(1))) {
      CountDownLatch inside = new CountDownLatch(1);
      CountDownLatch release = new CountDownLatch(1);
      CompletableFuture<JobRunner.Outcome<String>> first =
          CompletableFuture.supplyAsync(
              () ->
                  runner.runExclusive(
                      JOB,
                      ctx -> {
                        inside.countDown();
                        try {
                          release.await();
                        } catch (InterruptedException e) {
                          Thread.currentThread().interrupt();
                        }
                        return "done";
                      }));
      assertThat(inside.await(10, TimeUnit.SECONDS)).isTrue();
      JobRunner.Outcome<String> second = runner.runExclusive(JOB, ctx -> "never");
      assertThat(second.ran()).isFalse();
      assertThat(second.runningElsewhere().owner())
          .startsWith(runner.incarnation() + "#")
          .startsWith(SELF + "@");
      release.countDown();
      assertThat(first.get(10, TimeUnit.SECONDS).result()).isEqualTo("done");
      assertThat(store.jobLeases().find(JOB)).isEmpty();
    }
  }

  @Test
  @DisplayName("a lease whose owner died is stolen after its TTL, and only then")
  void stealsStale() {
    MutableClock clock = new MutableClock();
    InMemoryStore store = new InMemoryStore(clock);
    store.jobLeases().tryAcquire(JOB, "dead-host-1-00000000#1", Duration.ofMinutes(1));
    try (JobRunner runner = new JobRunner(store.jobLeases(), SELF, Duration.ofMinutes(1))) {
      assertThat(runner.runExclusive(JOB, ctx -> "x").ran()).isFalse();
      clock.advance(Duration.ofMinutes(1));
      JobRunner.Outcome<Integer> outcome =
          runner.runExclusive(JOB, ctx -> store.jobLeases().find(JOB).orElseThrow().attempt());
      assertThat(outcome.ran()).isTrue();
      assertThat(outcome.result()).isEqualTo(2);
    }
  }

  @Test
  @DisplayName("a heartbeat keeps a long job's lease alive")
  void heartbeat() throws Exception {
    InMemoryStore store = new InMemoryStore(Clock.systemUTC());
    try (JobRunner runner = new JobRunner(store.jobLeases(), SELF, Duration.ofMillis(300))) {
      CountDownLatch renewed = new CountDownLatch(1);
      JobRunner.Outcome<Boolean> outcome =
          runner.runExclusive(
              JOB,
              ctx -> {
                Instant first = store.jobLeases().find(JOB).orElseThrow().expiresAt();
                await()
                    .atMost(Duration.ofSeconds(10))
                    .until(
                        () -> store.jobLeases().find(JOB).orElseThrow().expiresAt().isAfter(first));
                renewed.countDown();
                return ctx.leaseLost();
              });
      assertThat(renewed.await(1, TimeUnit.SECONDS)).isTrue();
      assertThat(outcome.result()).isFalse();
    }
  }

  @Test
  @DisplayName("a store without leases degrades to unguarded jobs instead of crashing")
  void degraded() {
    JobLeases broken =
        new JobLeases() {
          private DurableDeployException missing() {
            return new DurableDeployException("relation \"job_leases\" does not exist");
          }

          @Override
          public Optional<Lease> tryAcquire(JobKey key, String owner, Duration ttl) {
            throw missing();
          }

          @Override
          public Optional<Lease> renew(JobKey key, String owner, Duration ttl) {
            throw missing();
          }

          @Override
          public boolean release(JobKey key, String owner) {
            throw missing();
          }

          @Override
          public Optional<Lease> find(JobKey key) {
            throw missing();
          }

          @Override
          public List<Lease> list(int limit) {
            throw missing();
          }

          @Override
          public List<Lease> listExpired(int limit) {
            throw missing();
          }
        };
    try (JobRunner runner = new JobRunner(broken, SELF, Duration.ofMinutes(1))) {
      assertThat(runner.runExclusive(JOB, ctx -> "ran anyway").result()).isEqualTo("ran anyway");
    }
    LeaseSweep sweep = new LeaseSweep(broken, SELF, operations(Clock.systemUTC()), retrier());
    assertThat(sweep.run().unavailable()).isTrue();
  }

  @Test
  @DisplayName(
      "the sweep resets expired leases and those of unregistered incarnations, nothing live, and"
          + " guesses nothing from host names or process ids")
  void sweep() throws Exception {
    MutableClock clock = new MutableClock();
    InMemoryStore store = new InMemoryStore(clock);
    Process exited = new ProcessBuilder("true").start();
    exited.waitFor();
    String live = "live-host-1-0000beef@fedcba9876543210";
    store
        .jobLeases()
        .tryAcquire(
            JobKey.of(Incarnations.KEY_PREFIX + "fedcba9876543210"), live, Duration.ofHours(1));
    // An incarnation with no registration: it closed or stopped renewing.
    store
        .jobLeases()
        .tryAcquire(JobKey.of("a"), "gone-host-1-0000dead@0123456789abcdef#3", Duration.ofHours(1));
    store.jobLeases().tryAcquire(JobKey.of("b"), live + "#1", Duration.ofHours(1));
    // The old owner format of this very host with a dead process id: no longer a reason.
    store
        .jobLeases()
        .tryAcquire(
            JobKey.of("c"), "build-host-" + exited.pid() + "-0000dead#3", Duration.ofHours(1));
    store.jobLeases().tryAcquire(JobKey.of("d"), "whoever", Duration.ofSeconds(1));
    clock.advance(Duration.ofSeconds(2));
    LeaseSweep.Report report =
        new LeaseSweep(store.jobLeases(), SELF, operations(clock), retrier()).run();
    assertThat(report.expired()).isEqualTo(1);
    assertThat(report.orphanedByRestart()).isEqualTo(1);
    assertThat(store.jobLeases().list(10))
        .extracting(l -> l.key().value())
        .containsExactly("b", "c", Incarnations.KEY_PREFIX + "fedcba9876543210");
  }

  @Test
  @DisplayName("a closed runner's leftover job lease is freed by the next sweep, before its TTL")
  void closedIncarnationsLeftovers() throws Exception {
    MutableClock clock = new MutableClock();
    InMemoryStore store = new InMemoryStore(clock);
    CountDownLatch inside = new CountDownLatch(1);
    CountDownLatch finish = new CountDownLatch(1);
    JobRunner closing = new JobRunner(store.jobLeases(), "closing-host", Duration.ofMinutes(5));
    CompletableFuture<JobRunner.Outcome<Boolean>> job =
        CompletableFuture.supplyAsync(
            () ->
                closing.runExclusive(
                    JOB,
                    ctx -> {
                      inside.countDown();
                      try {
                        finish.await(30, TimeUnit.SECONDS);
                      } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                      }
                      return true;
                    }));
    assertThat(inside.await(10, TimeUnit.SECONDS)).isTrue();
    closing.close(); // the process shuts down with the job still holding its lease
    LeaseSweep.Report report =
        new LeaseSweep(store.jobLeases(), SELF, operations(clock), retrier()).run();
    assertThat(report.orphanedByRestart()).isEqualTo(1);
    assertThat(store.jobLeases().list(10)).isEmpty();
    finish.countDown();
    assertThat(job.get(10, TimeUnit.SECONDS).ran()).isTrue();
  }

  private static Operations operations(Clock clock) {
    return new Operations(
        new RecordingEventBus(), new SimpleMeterRegistry(), clock, new SplittableRandom(1));
  }

  private static Retrier retrier() {
    return new Retrier(
        RetryPolicy.noRetry(), new SplittableRandom(1), d -> {}, new SimpleMeterRegistry());
  }
}
