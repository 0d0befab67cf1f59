package dev.durabledeploy.examples.coordination;

import static org.assertj.core.api.Assertions.assertThat;

import dev.durabledeploy.core.events.Operations;
import dev.durabledeploy.core.jobs.JobRunner;
import dev.durabledeploy.core.jobs.LeaseSweep;
import dev.durabledeploy.core.retry.Retrier;
import dev.durabledeploy.spi.JobKey;
import dev.durabledeploy.spi.Store;
import dev.durabledeploy.spi.lease.JobLeases;
import dev.durabledeploy.spi.lease.Lease;
import dev.durabledeploy.spi.retry.RetryPolicy;
import dev.durabledeploy.store.memory.InMemoryStore;
import dev.durabledeploy.store.postgres.PostgresStore;
import dev.durabledeploy.store.valkey.ValkeyStore;
import dev.durabledeploy.testkit.MutableClock;
import dev.durabledeploy.testkit.RecordingEventBus;
import dev.durabledeploy.testkit.fixtures.PostgresExtension;
import dev.durabledeploy.testkit.fixtures.ValkeyExtension;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Item 7 of issue 21: the lease sweep frees only dead leases. Replicas that share a host name (host
 * networking, the {@code "host"} fallback) must not free each other's live leases, and a lease
 * renewed after the sweep listed it must survive the sweep's release.
 */
@DisplayName("the lease sweep frees only dead leases")
class LeaseSweepTest {

  @RegisterExtension static final PostgresExtension PG = new PostgresExtension();
  @RegisterExtension static final ValkeyExtension VALKEY = new ValkeyExtension();
  private static final AtomicInteger SCHEMAS = new AtomicInteger();
  private static final JobKey JOB = JobKey.of("index:site-a");

  record Backend(String name, Function<Clock, Store> open) {
    @Override
    public String toString() {
      return name;
    }
  }

  static Stream<Arguments> stores() {
    return Stream.of(
        Arguments.of(new Backend("memory", InMemoryStore::new)),
        Arguments.of(
            new Backend(
                "postgres",
                clock ->
                    PostgresStore.builder()
                        .jdbcUrl(PG.jdbcUrl())
                        .username(PG.username())
                        .password(PG.password())
                        .schema("sweep_" + SCHEMAS.incrementAndGet())
                        .clock(clock)
                        .migrateOnStart(true)
                        .build())),
        Arguments.of(
            new Backend(
                "valkey",
                clock ->
                    ValkeyStore.builder()
                        .uri(VALKEY.uri().toString())
                        .namespace(ValkeyExtension.newNamespace())
                        .clock(clock)
                        .build())));
  }

  private static Operations operations(Clock clock) {
    return new Operations(
        new RecordingEventBus(), new SimpleMeterRegistry(), clock, new SplittableRandom(1));
  }

  private static Retrier retrier() {
    return new Retrier(
        RetryPolicy.noRetry(), new SplittableRandom(1), d -> {}, new SimpleMeterRegistry());
  }

  /** A process id that is certainly not running on this machine any more. */
  private static long deadPid() throws Exception {
    Process exited = new ProcessBuilder("true").start();
    exited.waitFor();
    return exited.pid();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("stores")
  @DisplayName("a replica on another machine with the same host name keeps its running job's lease")
  void replicasSharingAHostName(Backend backend) throws Exception {
    Clock clock = Clock.systemUTC();
    try (Store store = backend.open().apply(clock)) {
      // Two replicas with host networking: the same host name, process ids of their own machines.
      String elsewhere = "shared-host-" + deadPid() + "-0000aaaa";
      String here = "shared-host-" + ProcessHandle.current().pid() + "-0000bbbb";
      CountDownLatch running = new CountDownLatch(1);
      CountDownLatch finish = new CountDownLatch(1);
      try (JobRunner other = new JobRunner(store.jobLeases(), elsewhere, Duration.ofMinutes(1))) {
        CompletableFuture<JobRunner.Outcome<String>> job =
            CompletableFuture.supplyAsync(
                () ->
                    other.runExclusive(
                        JOB,
                        ctx -> {
                          running.countDown();
                          try {
                            finish.await(60, TimeUnit.SECONDS);
                          } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                          }
                          return ctx.leaseLost() ? "lost" : "kept";
                        }));
        assertThat(running.await(30, TimeUnit.SECONDS)).isTrue();
        Lease live = store.jobLeases().find(JOB).orElseThrow();

        LeaseSweep.Report report =
            new LeaseSweep(store.jobLeases(), here, operations(clock), retrier()).run();

        assertThat(report.orphanedByRestart()).isZero();
        assertThat(report.expired()).isZero();
        assertThat(store.jobLeases().find(JOB)).as("the running job's lease").contains(live);
        finish.countDown();
        assertThat(job.get(30, TimeUnit.SECONDS).result()).isEqualTo("kept");
      }
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("stores")
  @DisplayName("a lease renewed after the sweep listed it as expired survives the sweep")
  void renewedAfterListing(Backend backend) {
    MutableClock clock = new MutableClock();
    try (Store store = backend.open().apply(clock)) {
      JobLeases real = store.jobLeases();
      real.tryAcquire(JOB, "holder#1", Duration.ofSeconds(30)).orElseThrow();
      clock.advance(Duration.ofSeconds(31)); // the holder stalled past its TTL...
      // ...and its heartbeat lands right after the sweep read the leases, before it releases.
      JobLeases racing = new RenewAfterRead(real, clock);

      LeaseSweep.Report report =
          new LeaseSweep(racing, "sweeper-1-0000cccc", operations(clock), retrier()).run();

      assertThat(report.expired()).isZero();
      Lease survivor = real.find(JOB).orElseThrow();
      assertThat(survivor.owner()).isEqualTo("holder#1");
      assertThat(survivor.isExpired(clock.instant())).isFalse();
    }
  }

  /** Leases whose holder renews {@code JOB} the moment after any listing returned. */
  private static final class RenewAfterRead implements JobLeases {
    private final JobLeases delegate;
    private final MutableClock clock;

    RenewAfterRead(JobLeases delegate, MutableClock clock) {
      this.delegate = delegate;
      this.clock = clock;
    }

    private <T> T thenRenew(T listing) {
      clock.advance(Duration.ofSeconds(1));
      assertThat(delegate.renew(JOB, "holder#1", Duration.ofSeconds(30))).isPresent();
      return listing;
    }

    @Override
    public Optional<Lease> tryAcquire(JobKey key, String owner, Duration ttl) {
      return delegate.tryAcquire(key, owner, ttl);
    }

    @Override
    public Optional<Lease> renew(JobKey key, String owner, Duration ttl) {
      return delegate.renew(key, owner, ttl);
    }

    @Override
    public boolean release(JobKey key, String owner) {
      return delegate.release(key, owner);
    }

    @Override
    public boolean releaseIfUnchanged(Lease lease) {
      return delegate.releaseIfUnchanged(lease);
    }

    @Override
    public Optional<Lease> find(JobKey key) {
      return delegate.find(key);
    }

    @Override
    public List<Lease> list(int limit) {
      return thenRenew(delegate.list(limit));
    }

    @Override
    public List<Lease> listExpired(int limit) {
      return thenRenew(delegate.listExpired(limit));
    }
  }
}
