package dev.durabledeploy.core;

import dev.durabledeploy.core.deploy.BlobLayout;
import dev.durabledeploy.core.deploy.DeployService;
import dev.durabledeploy.core.deploy.Manifest;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.Authorizer;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.UploadPath;
import dev.durabledeploy.spi.blob.BlobStore;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.spi.retry.RetryPolicy;
import dev.durabledeploy.store.memory.InMemoryBlobStore;
import dev.durabledeploy.store.memory.InMemoryStore;
import dev.durabledeploy.store.memory.InMemoryWorkflowEngine;
import dev.durabledeploy.testkit.FaultInjectingBlobStore;
import dev.durabledeploy.testkit.MutableClock;
import dev.durabledeploy.testkit.RecordingEventBus;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/** A deploy plane on the in-memory reference adapters, a movable clock and no-wait retries. */
public abstract class CoreFixture {

  protected static final SiteId SITE = SiteId.of("site-a");
  protected static final AliasName PROD = AliasName.PRODUCTION;
  protected static final String SHA = "abcdef0123456789";

  protected final MutableClock clock = new MutableClock();
  protected InMemoryStore store;
  protected InMemoryBlobStore rawBlobs;
  protected FaultInjectingBlobStore blobs;
  protected InMemoryWorkflowEngine engine;
  protected DurableDeploy plane;
  protected DeployService deploys;
  protected final RecordingEventBus recorded = new RecordingEventBus();
  protected final SimpleMeterRegistry meters = new SimpleMeterRegistry();

  protected DeployOptions options() {
    return DeployOptions.defaults();
  }

  /** Who may do what; everything, unless a test says otherwise. */
  protected Authorizer authorizer() {
    return Authorizer.ALLOW_ALL;
  }

  /** The blob store under the fault injector; {@link #rawBlobs} unless a test needs another. */
  protected BlobStore blobBackend() {
    return rawBlobs;
  }

  @BeforeEach
  protected void buildPlane() {
    store = new InMemoryStore(clock);
    rawBlobs = new InMemoryBlobStore(clock);
    blobs = new FaultInjectingBlobStore(blobBackend());
    engine = new InMemoryWorkflowEngine();
    plane =
        DurableDeploy.builder()
            .store(store)
            .blobStore(blobs)
            .engine(engine)
            .clock(clock)
            .meterRegistry(meters)
            .random(new SplittableRandom(1))
            .sleeper(d -> {})
            .retryPolicy(
                RetryPolicy.defaults().withBackoff(Duration.ofMillis(1), Duration.ofMillis(5), 2.0))
            .options(options())
            .instanceId("test-host-1")
            .authorizer(authorizer())
            .build();
    plane.events().subscribe(e -> true, recorded::publish);
    deploys = plane.deploys();
  }

  @AfterEach
  void closePlane() {
    plane.close();
  }

  protected void upload(DeployId id, String path, String content) {
    byte[] bytes = content.getBytes(StandardCharsets.UTF_8);
    deploys.upload(SITE, id, UploadPath.of(path), new ByteArrayInputStream(bytes), bytes.length);
  }

  /**
   * A {@code purgeSite(SITE)} whose process dies once the rows are gone and before the first byte
   * goes: its intent is recorded, then the saga stops.
   */
  protected void crashedPurge() {
    // purgeSiteNow's blob calls: the intent (1), the site's bytes (2), its trash (3), its site
    // trash (4); the rows go
    // between the first two. Crash right before the bytes: rows gone, bytes and intent left.
    blobs
        .failOnCall(2, FaultInjectingBlobStore.When.BEFORE)
        .throwing(() -> new IllegalStateException("crash"));
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> deploys.purgeSiteNow(SITE))
        .hasMessageContaining("crash");
    blobs.heal();
    org.assertj.core.api.Assertions.assertThat(deploys.deploys(SITE)).isEmpty();
    org.assertj.core.api.Assertions.assertThat(rawBlobs.listAll(BlobLayout.site(SITE)))
        .isNotEmpty();
    org.assertj.core.api.Assertions.assertThat(rawBlobs.stat(BlobLayout.purgeIntent(SITE)))
        .isPresent();
  }

  /** A purge that crashed after its last byte deletion: only the intent is left. */
  protected void crashedPurgeAfterTheBytes() {
    blobs
        .failOnCall(4, FaultInjectingBlobStore.When.AFTER)
        .throwing(() -> new IllegalStateException("crash"));
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> deploys.purgeSiteNow(SITE))
        .hasMessageContaining("crash");
    blobs.heal();
    org.assertj.core.api.Assertions.assertThat(rawBlobs.listAll(BlobLayout.site(SITE))).isEmpty();
    org.assertj.core.api.Assertions.assertThat(deploys.deploys(SITE)).isEmpty();
    org.assertj.core.api.Assertions.assertThat(rawBlobs.stat(BlobLayout.purgeIntent(SITE)))
        .isPresent();
  }

  /** A deploy with index.html and one more file, finalized to {@code alias}. */
  protected Deploy finalizedDeploy(AliasName alias, String version) {
    Deploy d = deploys.init(SITE, null);
    upload(d.id(), "index.html", "<h1>" + version + "</h1>");
    upload(d.id(), "app.js", "console.log('" + version + "')");
    deploys.finalizeDeploy(SITE, d.id(), alias, Manifest.of("index.html", "app.js"));
    clock.advance(Duration.ofSeconds(1));
    return deploys.deploy(SITE, d.id()).orElseThrow();
  }
}
