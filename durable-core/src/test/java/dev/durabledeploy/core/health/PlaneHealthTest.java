package dev.durabledeploy.core.health;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.durabledeploy.core.DurableDeploy;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.blob.BlobContent;
import dev.durabledeploy.spi.blob.BlobInfo;
import dev.durabledeploy.spi.blob.BlobKey;
import dev.durabledeploy.spi.blob.BlobMetadata;
import dev.durabledeploy.spi.blob.BlobPage;
import dev.durabledeploy.spi.blob.BlobPrefix;
import dev.durabledeploy.spi.blob.BlobStore;
import dev.durabledeploy.spi.engine.RunHandle;
import dev.durabledeploy.spi.engine.Submission;
import dev.durabledeploy.spi.engine.WorkflowDefinition;
import dev.durabledeploy.spi.engine.WorkflowEngine;
import dev.durabledeploy.spi.exception.ConfigurationException;
import dev.durabledeploy.spi.exception.TransientStoreException;
import dev.durabledeploy.spi.health.Health;
import dev.durabledeploy.spi.health.HealthReport;
import dev.durabledeploy.spi.health.HealthStatus;
import dev.durabledeploy.spi.outbox.NewEvent;
import dev.durabledeploy.spi.outbox.StandardEvents;
import dev.durabledeploy.spi.retry.RetryPolicy;
import dev.durabledeploy.store.memory.InMemoryBlobStore;
import dev.durabledeploy.store.memory.InMemoryStore;
import dev.durabledeploy.store.memory.InMemoryWorkflowEngine;
import dev.durabledeploy.testkit.ForwardingWorkflowEngine;
import dev.durabledeploy.testkit.MutableClock;
import java.io.InputStream;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

@DisplayName("plane.health()")
class PlaneHealthTest {

  private static final SiteId SITE = SiteId.of("site-a");

  /** The host's engine, whose submissions of {@code notify} fail while {@link #down} is set. */
  static final class UnreachableNotify extends ForwardingWorkflowEngine {
    volatile boolean down = true;

    UnreachableNotify(WorkflowEngine delegate) {
      super(delegate);
    }

    @Override
    public CompletionStage<RunHandle> submit(Submission submission) {
      if (down && submission.workflow().equals("notify")) {
        return CompletableFuture.failedFuture(
            new TransientStoreException("the notification engine is unreachable"));
      }
      return super.submit(submission);
    }
  }

  /** A blob store whose {@code health()} is whatever the test says, counting its calls. */
  static final class ProbedBlobStore implements BlobStore {
    private final BlobStore delegate = new InMemoryBlobStore();
    final AtomicInteger probes = new AtomicInteger();
    volatile Supplier<Health> probe = Health::up;

    @Override
    public Health health() {
      probes.incrementAndGet();
      return probe.get();
    }

    @Override
    public BlobInfo put(BlobKey key, InputStream data, long size, BlobMetadata metadata) {
      return delegate.put(key, data, size, metadata);
    }

    @Override
    public Optional<BlobContent> get(BlobKey key) {
      return delegate.get(key);
    }

    @Override
    public Optional<BlobInfo> stat(BlobKey key) {
      return delegate.stat(key);
    }

    @Override
    public BlobPage list(BlobPrefix prefix, BlobKey startAfter, int limit) {
      return delegate.list(prefix, startAfter, limit);
    }

    @Override
    public void delete(BlobKey key) {
      delegate.delete(key);
    }

    @Override
    public long deletePrefix(BlobPrefix prefix) {
      return delegate.deletePrefix(prefix);
    }

    @Override
    public long movePrefix(BlobPrefix from, BlobPrefix to) {
      return delegate.movePrefix(from, to);
    }
  }

  private final MutableClock clock = new MutableClock();
  private final InMemoryStore store = new InMemoryStore(clock);
  private final UnreachableNotify engine = new UnreachableNotify(new InMemoryWorkflowEngine());
  private final ProbedBlobStore blobs = new ProbedBlobStore();
  private DurableDeploy plane;

  private DurableDeploy plane(HealthOptions health) {
    engine.register(
        WorkflowDefinition.named("notify").keyedBy(StandardEvents.KEY_SITE).handler(ctx -> {}));
    plane =
        DurableDeploy.builder()
            .store(store)
            .blobStore(blobs)
            .engine(engine)
            .clock(clock)
            .sleeper(d -> {})
            .retryPolicy(
                RetryPolicy.defaults().withBackoff(Duration.ofMillis(1), Duration.ofMillis(5), 2.0))
            .route("build.finished", "notify")
            .options(
                dev.durabledeploy.core.DeployOptions.builder().importSitesOnStart(false).build())
            .health(health)
            .build();
    return plane;
  }

  @AfterEach
  void close() {
    if (plane != null) {
      plane.close();
    }
  }

  @Test
  @DisplayName("a started plane reports every component UP, each with its probe latency")
  void upWhenStarted() {
    HealthReport report = plane(HealthOptions.defaults()).start().health();

    assertThat(report.status()).isEqualTo(HealthStatus.UP);
    assertThat(report.components().keySet())
        .containsExactly(
            HealthReport.METADATA,
            HealthReport.OUTBOX,
            HealthReport.SITE_LOCKS,
            HealthReport.LEASES,
            HealthReport.BLOB_STORE,
            HealthReport.ENGINE,
            HealthReport.RELAY);
    report
        .components()
        .forEach(
            (name, health) -> {
              assertThat(health.status()).as(name).isEqualTo(HealthStatus.UP);
              if (!name.equals(HealthReport.RELAY)) {
                assertThat(health.details()).as(name).containsKey("latencyMs");
              }
            });
    assertThat(report.component(HealthReport.OUTBOX).details())
        .containsEntry("undelivered", 0L)
        .containsEntry("deadLettered", 0L)
        .containsEntry("oldestUndeliveredAgeMs", 0L);
    assertThat(report.component(HealthReport.ENGINE).details()).containsEntry("state", "RUNNING");
    assertThat(report.component(HealthReport.RELAY).details()).containsEntry("running", true);
    assertThat(report.checkedAt()).isEqualTo(clock.instant());
  }

  @Test
  @DisplayName("before start() the engine and the relay are DOWN, and so is the plane")
  void downBeforeStart() {
    HealthReport report = plane(HealthOptions.defaults()).health();

    assertThat(report.status()).isEqualTo(HealthStatus.DOWN);
    assertThat(report.component(HealthReport.ENGINE).status()).isEqualTo(HealthStatus.DOWN);
    assertThat(report.component(HealthReport.ENGINE).details()).containsEntry("state", "NEW");
    assertThat(report.component(HealthReport.RELAY).status()).isEqualTo(HealthStatus.DOWN);
    assertThat(report.component(HealthReport.METADATA).status()).isEqualTo(HealthStatus.UP);
  }

  @Test
  @DisplayName(
      "the relay turns DEGRADED once the oldest undelivered event waits past the threshold")
  void degradedWhenTheRelayFallsBehind() {
    plane(HealthOptions.defaults().withRelayLagThreshold(Duration.ofMinutes(1))).start();
    store.outbox().append(new NewEvent(SITE, "build.finished", Map.of("site", SITE.value())));

    clock.advance(Duration.ofSeconds(59));
    assertThat(plane.health().status()).isEqualTo(HealthStatus.UP);

    clock.advance(Duration.ofSeconds(2));
    HealthReport behind = plane.health();
    assertThat(behind.status()).isEqualTo(HealthStatus.DEGRADED);
    Health relay = behind.component(HealthReport.RELAY);
    assertThat(relay.status()).isEqualTo(HealthStatus.DEGRADED);
    assertThat(relay.details())
        .containsEntry("oldestUndeliveredAgeMs", 61_000L)
        .containsEntry("lagThresholdMs", 60_000L);
    assertThat((String) relay.details().get("reason")).contains("relayLagThreshold");
    assertThat(behind.component(HealthReport.OUTBOX).details()).containsEntry("undelivered", 1L);

    engine.down = false;
    await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () -> {
              clock.advance(Duration.ofSeconds(1));
              plane.relay().wake();
              return plane.health().status() == HealthStatus.UP;
            });
  }

  @Test
  @DisplayName("an outbox dead letter makes the outbox DEGRADED until it is discarded")
  void deadLetterDegradesTheOutbox() {
    plane(HealthOptions.defaults()).start();
    long id =
        store.outbox().append(new NewEvent(SITE, "build.finished", Map.of("site", SITE.value())));
    await()
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(20))
        .until(
            () -> {
              clock.advance(Duration.ofMinutes(1));
              plane.relay().wake();
              return !plane.outboxDeadLetters().list(10).isEmpty();
            });

    Health outbox = plane.health().component(HealthReport.OUTBOX);
    assertThat(outbox.status()).isEqualTo(HealthStatus.DEGRADED);
    assertThat(outbox.details()).containsEntry("deadLettered", 1L);
    assertThat((String) outbox.details().get("reason")).contains("outboxDeadLetters()");
    assertThat(plane.health().component(HealthReport.RELAY).status()).isEqualTo(HealthStatus.UP);

    plane.outboxDeadLetters().discard(id);
    assertThat(plane.health().status()).isEqualTo(HealthStatus.UP);
  }

  @Nested
  @DisplayName("probes are bounded in time")
  class Deadlines {

    @Test
    @DisplayName("a hung probe reports DOWN within the deadline and is not started twice")
    void hungProbe() throws Exception {
      CountDownLatch release = new CountDownLatch(1);
      blobs.probe =
          () -> {
            try {
              release.await();
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
            return Health.up(Map.of("answered", "late"));
          };
      plane(HealthOptions.defaults().withProbeTimeout(Duration.ofMillis(200))).start();

      long runningBefore = 0;
      for (int call = 0; call < 3; call++) {
        long start = System.nanoTime();
        HealthReport report = plane.health();
        Duration took = Duration.ofNanos(System.nanoTime() - start);

        assertThat(took).isLessThan(Duration.ofSeconds(2));
        Health blob = report.component(HealthReport.BLOB_STORE);
        assertThat(blob.status()).isEqualTo(HealthStatus.DOWN);
        assertThat((String) blob.details().get("reason")).contains("probeTimeout (200 ms)");
        // The same probe, still running: each call sees it older by at least its own wait.
        long running = (Long) blob.details().get("probeRunningMs");
        assertThat(running).isGreaterThanOrEqualTo(runningBefore + 150);
        runningBefore = running;
        assertThat(report.component(HealthReport.METADATA).status()).isEqualTo(HealthStatus.UP);
        assertThat(report.status()).isEqualTo(HealthStatus.DOWN);
      }
      assertThat(blobs.probes).as("probes started while the first hung").hasValue(1);

      release.countDown();
      await()
          .atMost(Duration.ofSeconds(10))
          .until(
              () -> plane.health().component(HealthReport.BLOB_STORE).status(),
              s -> s == HealthStatus.UP);
      assertThat(plane.health().component(HealthReport.BLOB_STORE).details())
          .containsEntry("answered", "late");
    }

    @Test
    @DisplayName("a probe that throws reports DOWN with its error, credentials redacted")
    void failingProbe() {
      blobs.probe =
          () -> {
            throw new TransientStoreException(
                "listing s3://bucket failed via https://user:hunter2@proxy.example:8080/");
          };
      Health blob =
          plane(HealthOptions.defaults()).start().health().component(HealthReport.BLOB_STORE);

      assertThat(blob.status()).isEqualTo(HealthStatus.DOWN);
      assertThat((String) blob.details().get("error"))
          .startsWith("TransientStoreException: listing s3://bucket failed")
          .doesNotContain("hunter2");
    }

    @Test
    @DisplayName("after close() every probe reports DOWN at once")
    void afterClose() {
      DurableDeploy closed = plane(HealthOptions.defaults()).start();
      closed.close();
      plane = null;

      HealthReport report = closed.health();
      assertThat(report.status()).isEqualTo(HealthStatus.DOWN);
      assertThat(report.component(HealthReport.METADATA).details().get("error"))
          .asString()
          .contains("closed");
    }
  }

  @Nested
  @DisplayName("HealthOptions")
  class Options {

    @Test
    @DisplayName("a threshold that cannot work fails naming the field")
    void validated() {
      assertThatThrownBy(() -> HealthOptions.defaults().withProbeTimeout(Duration.ZERO))
          .isInstanceOfSatisfying(
              ConfigurationException.class,
              e -> assertThat(e.property()).isEqualTo("probeTimeout"));
      assertThatThrownBy(() -> HealthOptions.defaults().withProbeTimeout(Duration.ofMinutes(2)))
          .isInstanceOfSatisfying(
              ConfigurationException.class, e -> assertThat(e.property()).isEqualTo("probeTimeout"))
          .hasMessageContaining("at most PT1M");
      assertThatThrownBy(
              () -> HealthOptions.defaults().withRelayLagThreshold(Duration.ofSeconds(-1)))
          .isInstanceOfSatisfying(
              ConfigurationException.class,
              e -> assertThat(e.property()).isEqualTo("relayLagThreshold"));
      assertThatThrownBy(() -> new HealthOptions(Duration.ofSeconds(1), null))
          .isInstanceOfSatisfying(
              ConfigurationException.class,
              e -> assertThat(e.property()).isEqualTo("relayLagThreshold"));
      assertThatThrownBy(
              () ->
                  DurableDeploy.builder()
                      .store(store)
                      .blobStore(blobs)
                      .engine(engine)
                      .health(null)
                      .build())
          .isInstanceOfSatisfying(
              ConfigurationException.class, e -> assertThat(e.property()).isEqualTo("health"));
    }

    @Test
    @DisplayName("the defaults are named constants")
    void defaults() {
      assertThat(HealthOptions.defaults())
          .isEqualTo(
              new HealthOptions(
                  HealthOptions.DEFAULT_PROBE_TIMEOUT, HealthOptions.DEFAULT_RELAY_LAG_THRESHOLD));
    }
  }
}
