package dev.durabledeploy.testkit.tck;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.durabledeploy.spi.JobKey;
import dev.durabledeploy.spi.exception.InvalidInputException;
import dev.durabledeploy.spi.lease.JobLeases;
import dev.durabledeploy.spi.lease.Lease;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** The contract of {@link JobLeases}: a job is never run twice at once nor stuck forever (E4). */
public abstract class JobLeasesContract extends StoreFixture {

  private static final JobKey JOB = JobKey.of("index:site-a");
  private static final Duration TTL = Duration.ofMinutes(1);
  protected JobLeases leases;

  @BeforeEach
  void leases() {
    leases = store.jobLeases();
  }

  @Test
  @DisplayName("a fresh lease is attempt 1 and expires after its TTL")
  void acquiresFresh() {
    Lease lease = leases.tryAcquire(JOB, "host-1:a", TTL).orElseThrow();
    assertThat(lease.owner()).isEqualTo("host-1:a");
    assertThat(lease.attempt()).isEqualTo(1);
    assertThat(lease.startedAt()).isEqualTo(clock.instant());
    assertThat(lease.expiresAt()).isEqualTo(clock.instant().plus(TTL));
    assertThat(leases.find(JOB)).contains(lease);
  }

  @Test
  @DisplayName("a live lease of another owner cannot be taken: the job is already running")
  void liveLeaseRefused() {
    leases.tryAcquire(JOB, "host-1:a", TTL);
    clock.advance(TTL.minusSeconds(1));
    assertThat(leases.tryAcquire(JOB, "host-2:b", TTL)).isEmpty();
  }

  @Test
  @DisplayName("the holder re-acquiring renews, keeping its start and attempt")
  void holderReacquires() {
    Lease first = leases.tryAcquire(JOB, "host-1:a", TTL).orElseThrow();
    clock.advance(Duration.ofSeconds(10));
    Lease again = leases.tryAcquire(JOB, "host-1:a", TTL).orElseThrow();
    assertThat(again.startedAt()).isEqualTo(first.startedAt());
    assertThat(again.attempt()).isEqualTo(1);
    assertThat(again.expiresAt()).isEqualTo(clock.instant().plus(TTL));
  }

  @Test
  @DisplayName("an expired lease is stolen, and only after expiry, with the attempt counted")
  void stealAfterExpiry() {
    leases.tryAcquire(JOB, "host-1:a", TTL);
    clock.advance(TTL);
    Lease stolen = leases.tryAcquire(JOB, "host-2:b", TTL).orElseThrow();
    assertThat(stolen.owner()).isEqualTo("host-2:b");
    assertThat(stolen.attempt()).isEqualTo(2);
    assertThat(stolen.startedAt()).isEqualTo(clock.instant());
    assertThat(leases.renew(JOB, "host-1:a", TTL)).isEmpty();
    assertThat(leases.release(JOB, "host-1:a")).isFalse();
  }

  @Test
  @DisplayName("renewing extends the holder's lease; others cannot renew it")
  void renew() {
    leases.tryAcquire(JOB, "host-1:a", TTL);
    clock.advance(Duration.ofSeconds(50));
    Lease renewed = leases.renew(JOB, "host-1:a", TTL).orElseThrow();
    assertThat(renewed.expiresAt()).isEqualTo(clock.instant().plus(TTL));
    clock.advance(Duration.ofSeconds(50));
    assertThat(leases.tryAcquire(JOB, "host-2:b", TTL)).isEmpty();
    assertThat(leases.renew(JOB, "host-2:b", TTL)).isEmpty();
    assertThat(leases.renew(JobKey.of("other"), "host-1:a", TTL)).isEmpty();
  }

  @Test
  @DisplayName("releasing frees the job for anyone; only the holder can release")
  void release() {
    leases.tryAcquire(JOB, "host-1:a", TTL);
    assertThat(leases.release(JOB, "host-2:b")).isFalse();
    assertThat(leases.release(JOB, "host-1:a")).isTrue();
    assertThat(leases.find(JOB)).isEmpty();
    assertThat(leases.tryAcquire(JOB, "host-2:b", TTL).orElseThrow().attempt()).isEqualTo(1);
  }

  @Test
  @DisplayName("expired leases are listed by expiry; all leases by key")
  void listing() {
    leases.tryAcquire(JobKey.of("b-job"), "o", Duration.ofSeconds(10));
    leases.tryAcquire(JobKey.of("a-job"), "o", Duration.ofSeconds(20));
    leases.tryAcquire(JobKey.of("c-job"), "o", Duration.ofHours(1));
    Instant now = clock.advance(Duration.ofSeconds(30));
    assertThat(leases.listExpired(10))
        .extracting(l -> l.key().value())
        .containsExactly("b-job", "a-job");
    assertThat(leases.listExpired(10)).allMatch(l -> l.isExpired(now));
    assertThat(leases.list(10))
        .extracting(l -> l.key().value())
        .containsExactly("a-job", "b-job", "c-job");
    assertThat(leases.list(1)).hasSize(1);
  }

  @Test
  @DisplayName("owners are validated")
  void validation() {
    assertThatThrownBy(() -> leases.tryAcquire(JOB, "", TTL))
        .isInstanceOf(InvalidInputException.class);
    assertThatThrownBy(() -> leases.tryAcquire(JOB, "o\n", TTL))
        .isInstanceOf(InvalidInputException.class);
  }

  @Test
  @DisplayName("16 threads racing for one job: exactly one wins")
  void race() throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(16);
    CountDownLatch start = new CountDownLatch(1);
    try {
      List<Future<Optional<Lease>>> futures = new ArrayList<>();
      for (int t = 0; t < 16; t++) {
        String owner = "host:" + t;
        futures.add(
            pool.submit(
                () -> {
                  start.await();
                  return leases.tryAcquire(JOB, owner, TTL);
                }));
      }
      start.countDown();
      int winners = 0;
      for (Future<Optional<Lease>> f : futures) {
        winners += f.get(60, TimeUnit.SECONDS).isPresent() ? 1 : 0;
      }
      assertThat(winners).isEqualTo(1);
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  @DisplayName("releasing a listed lease frees it only if it is still exactly the lease listed")
  void releaseIfUnchanged() {
    leases.tryAcquire(JOB, "host-1:a", TTL);
    clock.advance(TTL);
    Lease listed = leases.listExpired(10).get(0);
    // The holder's heartbeat lands after the sweep read the lease, before it releases it.
    clock.advance(Duration.ofSeconds(1));
    Lease renewed = leases.renew(JOB, "host-1:a", TTL).orElseThrow();
    assertThat(leases.releaseIfUnchanged(listed)).isFalse();
    assertThat(leases.find(JOB)).contains(renewed);
    // Taken over by another owner after the listing: the new holder's lease survives too.
    clock.advance(TTL);
    Lease listedAgain = leases.listExpired(10).get(0);
    Lease stolen = leases.tryAcquire(JOB, "host-2:b", TTL).orElseThrow();
    assertThat(leases.releaseIfUnchanged(listedAgain)).isFalse();
    assertThat(leases.find(JOB)).contains(stolen);
    // Unchanged since read: released.
    assertThat(leases.releaseIfUnchanged(leases.find(JOB).orElseThrow())).isTrue();
    assertThat(leases.find(JOB)).isEmpty();
    assertThat(leases.releaseIfUnchanged(stolen)).isFalse();
  }

  @Test
  @DisplayName("a release of a listed lease racing its holder's renewal: exactly one of them wins")
  void releaseIfUnchangedRacesRenewal() throws Exception {
    for (int round = 0; round < 20; round++) {
      JobKey key = JobKey.of("race:" + round);
      leases.tryAcquire(key, "holder", TTL);
      Lease listed = leases.find(key).orElseThrow();
      clock.advance(Duration.ofMillis(1));
      ExecutorService pool = Executors.newFixedThreadPool(2);
      CountDownLatch start = new CountDownLatch(1);
      try {
        Future<Boolean> released =
            pool.submit(
                () -> {
                  start.await();
                  return leases.releaseIfUnchanged(listed);
                });
        Future<Optional<Lease>> renewed =
            pool.submit(
                () -> {
                  start.await();
                  return leases.renew(key, "holder", TTL);
                });
        start.countDown();
        boolean wasReleased = released.get(30, TimeUnit.SECONDS);
        Optional<Lease> renewal = renewed.get(30, TimeUnit.SECONDS);
        // Either the release came first (the renewal then finds nothing), or the renewal did
        // (the release then finds a changed lease): never both, never neither.
        assertThat(wasReleased).isNotEqualTo(renewal.isPresent());
        assertThat(leases.find(key).isPresent()).isEqualTo(renewal.isPresent());
      } finally {
        pool.shutdownNow();
      }
    }
  }
}
