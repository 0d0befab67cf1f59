package dev.durabledeploy.core.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.durabledeploy.core.DeployOptions;
import dev.durabledeploy.core.DurableDeploy;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.Store;
import dev.durabledeploy.spi.UploadPath;
import dev.durabledeploy.spi.blob.BlobContent;
import dev.durabledeploy.spi.exception.SiteLockLostException;
import dev.durabledeploy.spi.lock.SiteLock;
import dev.durabledeploy.spi.lock.SiteLocks;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.store.memory.InMemoryBlobStore;
import dev.durabledeploy.store.memory.InMemoryStore;
import dev.durabledeploy.store.memory.InMemoryWorkflowEngine;
import dev.durabledeploy.testkit.FaultInjectingBlobStore;
import dev.durabledeploy.testkit.MutableClock;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * A replacement (a re-upload, written under the site lock) on a store whose locks are leases: the
 * host's lock reports its remaining validity and can be lost while the write is in flight. The
 * locks here are the in-memory ones with a lease's answers scripted by the test.
 */
@DisplayName("a replacement under a lease lock")
class ReplaceUnderLeaseTest {

  static final SiteId SITE = SiteId.of("lease-site");

  final MutableClock clock = new MutableClock();
  final InMemoryStore memory = new InMemoryStore(clock);
  final InMemoryBlobStore raw = new InMemoryBlobStore(clock);
  final FaultInjectingBlobStore blobs = new FaultInjectingBlobStore(raw);
  final LeaseLocks locks = new LeaseLocks(memory.siteLocks());
  DurableDeploy plane;
  DeployService deploys;

  /**
   * Locks that answer {@link SiteLock#validFor()} like a lease: {@code atStart} on the first call,
   * {@code later} after it; and that report lost once {@code lose} is set.
   */
  static final class LeaseLocks implements SiteLocks {
    final SiteLocks delegate;
    volatile Duration atStart = Duration.ofSeconds(9);
    volatile Duration later = Duration.ofSeconds(8);
    final AtomicBoolean lose = new AtomicBoolean();

    LeaseLocks(SiteLocks delegate) {
      this.delegate = delegate;
    }

    @Override
    public SiteLock acquire(SiteId site, Duration timeout) {
      SiteLock lock = delegate.acquire(site, timeout);
      AtomicInteger asked = new AtomicInteger();
      return new SiteLock() {
        @Override
        public SiteId site() {
          return site;
        }

        @Override
        public boolean isHeld() {
          return lock.isHeld() && !lose.get();
        }

        @Override
        public Optional<Duration> validFor() {
          if (!isHeld()) {
            return Optional.of(Duration.ZERO);
          }
          return Optional.of(asked.getAndIncrement() == 0 ? atStart : later);
        }

        @Override
        public void close() {
          lock.close();
        }
      };
    }
  }

  @BeforeEach
  void build() {
    Store store = Store.of(memory.metadata(), memory.outbox(), locks, memory.jobLeases(), memory);
    plane =
        DurableDeploy.builder()
            .store(store)
            .blobStore(blobs)
            .engine(new InMemoryWorkflowEngine())
            .clock(clock)
            .random(new SplittableRandom(11))
            .sleeper(d -> {})
            .options(DeployOptions.defaults())
            .instanceId("lease-host")
            .build();
    deploys = plane.deploys();
  }

  @AfterEach
  void close() {
    plane.close();
  }

  void upload(Deploy d, String path, String content) {
    byte[] b = content.getBytes(StandardCharsets.UTF_8);
    deploys.upload(SITE, d.id(), UploadPath.of(path), new ByteArrayInputStream(b), b.length);
  }

  String served(Deploy d, String path) {
    try (BlobContent c =
        raw.get(BlobLayout.deploy(SITE, d.id()).resolve(path)).orElseThrow(AssertionError::new)) {
      return new String(c.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  @Test
  @DisplayName(
      "a replacement is not started when the lock's validity ran down to under a third: nothing"
          + " is written")
  void notStartedOnAShortLease() {
    Deploy d = deploys.init(SITE, null);
    upload(d, "index.html", "v1");
    locks.later = Duration.ofMillis(2_999);
    int before = blobs.calls();
    assertThatThrownBy(() -> upload(d, "index.html", "v2"))
        .isInstanceOfSatisfying(
            SiteLockLostException.class,
            e ->
                assertThat(e.getMessage()).contains("not started").contains("nothing was written"));
    assertThat(served(d, "index.html")).isEqualTo("v1");
    assertThat(blobs.calls()).isEqualTo(before);
    locks.later = Duration.ofSeconds(3);
    upload(d, "index.html", "v2");
    assertThat(served(d, "index.html")).isEqualTo("v2");
  }

  @Test
  @DisplayName(
      "a replacement whose lock is lost while it writes never reports success: it says the bytes"
          + " may have changed")
  void lockLostDuringTheWrite() {
    Deploy d = deploys.init(SITE, null);
    upload(d, "index.html", "v1");
    // The replacement's put is the next blob call to finish: the lock is lost while it writes.
    blobs.afterCall(1, () -> locks.lose.set(true));
    assertThatThrownBy(() -> upload(d, "index.html", "v2"))
        .isInstanceOfSatisfying(
            SiteLockLostException.class,
            e ->
                assertThat(e.getMessage())
                    .contains("may have changed")
                    .contains("CONTENT_CHANGED")
                    .contains("index.html"));
    locks.lose.set(false);
  }
}
