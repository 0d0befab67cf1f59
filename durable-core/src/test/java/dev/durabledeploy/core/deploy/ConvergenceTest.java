package dev.durabledeploy.core.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.durabledeploy.core.DurableDeploy;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.UploadPath;
import dev.durabledeploy.spi.blob.BlobContent;
import dev.durabledeploy.spi.blob.BlobInfo;
import dev.durabledeploy.spi.blob.BlobPrefix;
import dev.durabledeploy.spi.metadata.AliasExpectation;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.store.memory.InMemoryBlobStore;
import dev.durabledeploy.store.memory.InMemoryStore;
import dev.durabledeploy.store.memory.InMemoryWorkflowEngine;
import dev.durabledeploy.testkit.FaultInjectingBlobStore;
import dev.durabledeploy.testkit.FaultInjectingBlobStore.When;
import dev.durabledeploy.testkit.MutableClock;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.function.Supplier;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Fails the N-th blob store call of a whole lifecycle — before it takes effect, or after it took
 * effect but before the caller heard — for every N, re-runs the failed step, and requires the end
 * state (rows and bytes) to equal the fault-free run's.
 */
@DisplayName("every operation re-run after a fault converges to the fault-free end state")
class ConvergenceTest {

  private static final SiteId SITE = SiteId.of("site-a");

  /** One plane with a fault-injecting blob store. */
  private static final class World {
    final MutableClock clock = new MutableClock();
    final InMemoryStore store = new InMemoryStore(clock);
    final InMemoryBlobStore raw = new InMemoryBlobStore(clock);
    final FaultInjectingBlobStore blobs = new FaultInjectingBlobStore(raw);
    final DurableDeploy plane =
        DurableDeploy.builder()
            .store(store)
            .blobStore(blobs)
            .engine(new InMemoryWorkflowEngine())
            .clock(clock)
            .random(new SplittableRandom(7))
            .sleeper(d -> {})
            .instanceId("convergence")
            .build();
    final DeployService deploys = plane.deploys();
    int reruns;

    <T> T rerun(Supplier<T> step) {
      try {
        return step.get();
      } catch (IllegalStateException injected) {
        reruns++;
        return step.get();
      }
    }

    void upload(Deploy d, String path, String content) {
      rerun(
          () -> {
            byte[] bytes = content.getBytes(StandardCharsets.UTF_8);
            return deploys.upload(
                SITE, d.id(), UploadPath.of(path), new ByteArrayInputStream(bytes), bytes.length);
          });
    }

    /** Deploys carry shas so their ids do not depend on how much randomness re-runs consumed. */
    void lifecycle() {
      Deploy d1 = rerun(() -> deploys.init(SITE, "aaaaaaa111"));
      upload(d1, "index.html", "<h1>one</h1>");
      upload(d1, "app.js", "1");
      rerun(
          () ->
              deploys.finalizeDeploy(
                  SITE, d1.id(), AliasName.PRODUCTION, Manifest.of("index.html", "app.js")));
      Deploy d2 = rerun(() -> deploys.init(SITE, "bbbbbbb222"));
      upload(d2, "index.html", "<h1>two</h1>");
      rerun(
          () ->
              deploys.finalizeDeploy(SITE, d2.id(), AliasName.PREVIEW, Manifest.of("index.html")));
      rerun(() -> deploys.promote(SITE, d2.id(), AliasName.PRODUCTION, AliasExpectation.ANY));
      rerun(() -> deploys.delete(SITE, d1.id()));
      rerun(() -> deploys.restore(SITE, d1.id()));
      Deploy d3 = rerun(() -> deploys.init(SITE, "ccccccc333"));
      upload(d3, "index.html", "<h1>three</h1>");
      rerun(() -> deploys.delete(SITE, d3.id()));
    }

    Map<String, Object> endState() {
      Map<String, Object> state = new TreeMap<>();
      state.put(
          "deploys", store.metadata().listDeploys(SITE).stream().map(Object::toString).toList());
      state.put(
          "aliases", store.metadata().listAliases(SITE).stream().map(Object::toString).toList());
      state.put(
          "trash", store.metadata().listTombstones(SITE).stream().map(Object::toString).toList());
      for (BlobInfo info : raw.listAll(BlobPrefix.ROOT)) {
        try (BlobContent c = raw.get(info.key()).orElseThrow()) {
          state.put("blob:" + info.key(), new String(c.readAllBytes(), StandardCharsets.UTF_8));
        }
      }
      return state;
    }
  }

  private static int baselineCalls;

  private static Map<String, Object> baseline() {
    World world = new World();
    world.blobs.failOnCall(Integer.MAX_VALUE, When.BEFORE);
    world.lifecycle();
    baselineCalls = world.blobs.calls();
    return world.endState();
  }

  static Stream<Arguments> faults() {
    baseline();
    List<Arguments> faults = new ArrayList<>();
    for (When when : When.values()) {
      IntStream.rangeClosed(1, baselineCalls).forEach(n -> faults.add(Arguments.of(when, n)));
    }
    return faults.stream();
  }

  @ParameterizedTest(name = "fault {0} blob call #{1}")
  @MethodSource("faults")
  void converges(When when, int n) {
    Map<String, Object> expected = baseline();
    World world = new World();
    world.blobs.failOnCall(n, when).throwing(() -> new IllegalStateException("injected crash"));
    world.lifecycle();
    assertThat(world.reruns).isEqualTo(1);
    assertThat(world.endState()).isEqualTo(expected);
  }
}
