package dev.durabledeploy.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.durabledeploy.core.DeployOptions;
import dev.durabledeploy.core.DurableDeploy;
import dev.durabledeploy.core.blob.FileSystemBlobStore;
import dev.durabledeploy.engine.executor.ExecutorEngine;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.Store;
import dev.durabledeploy.spi.blob.BlobStore;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.spi.metadata.Tombstone;
import dev.durabledeploy.store.memory.InMemoryStore;
import dev.durabledeploy.store.postgres.PostgresStore;
import dev.durabledeploy.store.valkey.ValkeyStore;
import dev.durabledeploy.testkit.MutableClock;
import dev.durabledeploy.testkit.fixtures.PostgresExtension;
import dev.durabledeploy.testkit.fixtures.ValkeyExtension;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Issue 20.4: {@code gc-site} runs on {@code site.changed}, debounced in the engine's memory, so a
 * host that dies during the debounce window takes the run with it and nothing collects the site
 * until its next change. The daily GC sweep, which another host's engine fires on its cron, catches
 * it. Two hosts share one store and one bucket, as in production.
 */
@DisplayName("the GC sweep catches a debounced GC lost with its host")
class GcSweepTest {

  @RegisterExtension static final PostgresExtension PG = new PostgresExtension();
  @RegisterExtension static final ValkeyExtension VALKEY = new ValkeyExtension();
  private static final SiteId SITE = SiteId.of("sweep-site");
  private static int schemas;

  /** The default sweep fires daily at 02:37 UTC. */
  private static final Instant SWEEP_FIRES = Instant.parse("2026-01-26T02:37:00Z");

  @TempDir Path dir;

  static Stream<Arguments> stores() {
    return Stream.of(
        Arguments.of("memory", (Function<MutableClock, Store>) InMemoryStore::new),
        Arguments.of(
            "postgres",
            (Function<MutableClock, Store>)
                clock ->
                    PostgresStore.builder()
                        .jdbcUrl(PG.jdbcUrl())
                        .username(PG.username())
                        .password(PG.password())
                        .schema("sweep_" + (++schemas))
                        .clock(clock)
                        .migrateOnStart(true)
                        .build()),
        Arguments.of(
            "valkey",
            (Function<MutableClock, Store>)
                clock ->
                    ValkeyStore.builder()
                        .uri(VALKEY.uri().toString())
                        .namespace(ValkeyExtension.newNamespace())
                        .clock(clock)
                        .build()));
  }

  private static DurableDeploy host(
      String name, Store store, BlobStore blobs, MutableClock clock, DeployOptions options) {
    return DurableDeploy.builder()
        .store(store)
        .blobStore(blobs)
        .engine(ExecutorEngine.builder().clock(clock).build())
        .clock(clock)
        .options(options)
        .instanceId(name)
        .build();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("stores")
  void lostDebounceCaughtBySweep(String name, Function<MutableClock, Store> stores) {
    MutableClock clock = new MutableClock();
    Store store = stores.apply(clock);
    BlobStore blobs = new FileSystemBlobStore(dir.resolve("blobs"));
    try {
      // Host A debounces GC for an hour: its run is still waiting when the host goes away.
      DurableDeploy hostA =
          host(
                  "host-a",
                  store,
                  blobs,
                  clock,
                  DeployOptions.builder()
                      .gcDebounce(Duration.ofHours(1), Duration.ofHours(1))
                      .build())
              .start();
      List<Deploy> six;
      try {
        six = Releases.toProduction(hostA, SITE, clock, Collections.nCopies(6, null));
        clock.advance(Duration.ofDays(10));
        await()
            .atMost(Duration.ofSeconds(30))
            .until(() -> store.outbox().stats().undelivered() == 0);
      } finally {
        hostA.close();
      }
      assertThat(hostA.deploys().trash(SITE)).isEmpty();
      assertThat(store.outbox().stats().undelivered()).isZero();

      // Host B starts shortly before the sweep's daily fire time; no event names the site.
      clock.set(SWEEP_FIRES.minusSeconds(2));
      DurableDeploy hostB =
          host(
              "host-b",
              store,
              blobs,
              clock,
              DeployOptions.builder()
                  .gcDebounce(Duration.ofMillis(100), Duration.ofSeconds(1))
                  .build());
      try {
        hostB.start();
        List<Object> oldest = new ArrayList<>(six.subList(0, 3).stream().map(Deploy::id).toList());
        await()
            .atMost(Duration.ofSeconds(30))
            .until(
                () -> hostB.deploys().trash(SITE).stream().map(Tombstone::deployId).toList(),
                trashed -> trashed.equals(oldest));
        assertThat(hostB.deploys().deploys(SITE))
            .extracting(Deploy::id)
            .containsExactlyElementsOf(six.subList(3, 6).stream().map(Deploy::id).toList());
      } finally {
        hostB.close();
      }
    } finally {
      blobs.close();
      store.close();
    }
  }
}
