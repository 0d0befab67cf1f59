package dev.durabledeploy.examples.hostile;

import static dev.durabledeploy.examples.hostile.Blobs.bytes;
import static org.assertj.core.api.Assertions.assertThat;

import dev.durabledeploy.core.DeployOptions;
import dev.durabledeploy.core.DurableDeploy;
import dev.durabledeploy.core.deploy.BlobLayout;
import dev.durabledeploy.core.deploy.DeployService;
import dev.durabledeploy.core.deploy.Finalized;
import dev.durabledeploy.core.deploy.Manifest;
import dev.durabledeploy.core.deploy.Marker;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.UploadPath;
import dev.durabledeploy.spi.blob.BlobContent;
import dev.durabledeploy.spi.blob.BlobInfo;
import dev.durabledeploy.spi.blob.BlobStore;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.spi.retry.RetryPolicy;
import dev.durabledeploy.store.memory.InMemoryStore;
import dev.durabledeploy.store.memory.InMemoryWorkflowEngine;
import dev.durabledeploy.testkit.FaultInjectingBlobStore;
import dev.durabledeploy.testkit.MutableClock;
import java.io.ByteArrayInputStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A soak of the issue's first item: a client that keeps uploading (new files and re-uploads) into a
 * deploy while another thread finalizes it, on a blob store that fails 20% of its calls, with
 * finalize retried after every failure. After each round the ACTIVE deploy must hold exactly what
 * its marker says finalize verified, and no upload that reported success may be missing from it.
 */
class FinalizeSoakHostileTest {

  static final SiteId SITE = SiteId.of("hostile-soak");

  @TempDir Path dir;
  final MutableClock clock = new MutableClock();
  final ExecutorService pool = Executors.newCachedThreadPool();
  DurableDeploy plane;
  BlobStore raw;

  static Stream<Blobs.Kind> stores() {
    return Stream.of(Blobs.memory(), Blobs.filesystem());
  }

  @AfterEach
  void close() {
    pool.shutdownNow();
    if (plane != null) {
      plane.close();
    }
    if (raw != null) {
      raw.close();
    }
  }

  static Map<String, String> stored(BlobStore blobs, Deploy d) {
    var prefix = BlobLayout.deploy(SITE, d.id());
    Map<String, String> files = new TreeMap<>();
    for (BlobInfo info : blobs.listAll(prefix)) {
      String path = info.key().relativeTo(prefix);
      if (!path.equals(BlobLayout.MARKER_NAME)) {
        try (BlobContent c = blobs.get(info.key()).orElseThrow()) {
          files.put(path, Blobs.sha256(c.readAllBytes()));
        }
      }
    }
    return files;
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("stores")
  void uploadsAndRetriedFinalizesOnAFaultyStore(Blobs.Kind kind) throws Exception {
    raw = kind.create(dir, clock);
    FaultInjectingBlobStore blobs =
        new FaultInjectingBlobStore(raw).failRandomly(0.2, new SplittableRandom(42));
    plane =
        DurableDeploy.builder()
            .store(new InMemoryStore(clock))
            .blobStore(blobs)
            .engine(new InMemoryWorkflowEngine())
            .clock(clock)
            .random(new SplittableRandom(9))
            .sleeper(d -> {})
            .retryPolicy(
                RetryPolicy.defaults().withBackoff(Duration.ofMillis(1), Duration.ofMillis(2), 2.0))
            .options(DeployOptions.builder().lockTimeout(Duration.ofSeconds(20)).build())
            .instanceId("hostile-soak")
            .build();
    DeployService deploys = plane.deploys();
    SplittableRandom random = new SplittableRandom(1);
    List<String> problems = new ArrayList<>();
    for (int round = 0; round < 40; round++) {
      Deploy d = null;
      while (d == null) {
        try {
          d = deploys.init(SITE, null);
        } catch (RuntimeException transientFault) {
          // the store failed every attempt; try again
        }
      }
      Deploy deploy = d;
      byte[] first = bytes("index " + round);
      boolean indexStored = false;
      while (!indexStored) {
        try {
          deploys.upload(
              SITE,
              deploy.id(),
              UploadPath.INDEX_HTML,
              new ByteArrayInputStream(first),
              first.length);
          indexStored = true;
        } catch (RuntimeException e) {
          // retry
        }
      }
      Map<String, String> succeeded = new ConcurrentHashMap<>();
      CountDownLatch go = new CountDownLatch(1);
      List<Future<?>> uploads = new ArrayList<>();
      for (int u = 0; u < 8; u++) {
        String path = random.nextBoolean() ? "index.html" : "f" + random.nextInt(4) + ".js";
        byte[] body = bytes(path + " r" + round + " u" + u);
        uploads.add(
            pool.submit(
                () -> {
                  go.await();
                  try {
                    deploys.upload(
                        SITE,
                        deploy.id(),
                        UploadPath.of(path),
                        new ByteArrayInputStream(body),
                        body.length);
                    succeeded.put(path + "#" + Blobs.sha256(body), "ok");
                  } catch (RuntimeException refusedOrFaulted) {
                    // DeployStateException, UploadConflictException, injected faults
                  }
                  return null;
                }));
      }
      Future<Finalized> finalize =
          pool.submit(
              () -> {
                go.await();
                while (true) {
                  try {
                    return deploys.finalizeDeploy(
                        SITE, deploy.id(), AliasName.PRODUCTION, Manifest.of("index.html"));
                  } catch (RuntimeException e) {
                    // faults, a FINALIZING left by a failed attempt: finalize again
                  }
                }
              });
      go.countDown();
      Finalized done = finalize.get(60, TimeUnit.SECONDS);
      for (Future<?> f : uploads) {
        f.get(60, TimeUnit.SECONDS);
      }
      assertThat(done.deploy().isActive()).isTrue();
      blobs.heal();
      Marker marker;
      try (BlobContent c = raw.get(BlobLayout.marker(SITE, deploy.id())).orElseThrow()) {
        marker = Marker.parse(c.readAllBytes());
      }
      Map<String, String> verified = new TreeMap<>();
      marker.verified().forEach((p, f) -> verified.put(p, f.sha256()));
      Map<String, String> now = stored(raw, deploy);
      if (!now.equals(verified)) {
        problems.add("round " + round + ": stored " + now + " but verified " + verified);
      }
      for (String ok : succeeded.keySet()) {
        String path = ok.substring(0, ok.indexOf('#'));
        if (!verified.containsKey(path)) {
          problems.add("round " + round + ": upload of " + path + " succeeded but is not there");
        }
      }
      blobs.failRandomly(0.2, new SplittableRandom(round));
    }
    blobs.heal();
    assertThat(problems).isEmpty();
  }
}
