package dev.durabledeploy.examples.hostile;

import static dev.durabledeploy.examples.hostile.Blobs.bytes;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.durabledeploy.core.DeployOptions;
import dev.durabledeploy.core.DurableDeploy;
import dev.durabledeploy.core.blob.FileSystemBlobStore;
import dev.durabledeploy.core.deploy.Manifest;
import dev.durabledeploy.core.gc.GcPlan;
import dev.durabledeploy.core.gc.KeepReason;
import dev.durabledeploy.engine.executor.ExecutorEngine;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.Store;
import dev.durabledeploy.spi.UploadPath;
import dev.durabledeploy.spi.blob.BlobStore;
import dev.durabledeploy.spi.events.EventBus;
import dev.durabledeploy.spi.events.OperationEvent;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.spi.metadata.Tombstone;
import dev.durabledeploy.store.memory.InMemoryStore;
import dev.durabledeploy.store.postgres.PostgresStore;
import dev.durabledeploy.store.valkey.ValkeyStore;
import dev.durabledeploy.testkit.MutableClock;
import dev.durabledeploy.testkit.fixtures.PostgresExtension;
import dev.durabledeploy.testkit.fixtures.ValkeyExtension;
import java.io.ByteArrayInputStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Issue 20.2 as two hosts see it: a restore on one host, the background gc-site its site.changed
 * triggers running on whichever host's relay and engine take it, then delete and restore again,
 * then the restore window running out. Nothing calls GC directly between a restore and the check.
 */
class RestoreThenBackgroundGcHostileTest {

  @RegisterExtension static final PostgresExtension PG = new PostgresExtension();
  @RegisterExtension static final ValkeyExtension VALKEY = new ValkeyExtension();
  static final SiteId SITE = SiteId.of("hostile-restore");
  static final AtomicInteger SCHEMAS = new AtomicInteger();

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
                        .schema("hrestore_" + SCHEMAS.incrementAndGet())
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

  static DurableDeploy host(String name, Store store, BlobStore blobs, MutableClock clock) {
    return DurableDeploy.builder()
        .store(store)
        .blobStore(blobs)
        .engine(ExecutorEngine.builder().clock(clock).build())
        .clock(clock)
        .options(
            DeployOptions.builder()
                .gcDebounce(Duration.ofMillis(50), Duration.ofMillis(500))
                .build())
        .instanceId(name)
        .build()
        .start();
  }

  /** Counts background GC runs of the site that finished, on every host. */
  static final class GcRuns {
    final AtomicInteger finished = new AtomicInteger();

    void watch(DurableDeploy host) {
      host.events()
          .subscribe(
              EventBus.topic("operation"),
              e -> {
                if (e instanceof OperationEvent.Succeeded s
                    && s.operation().equals("gc")
                    && SITE.equals(s.site())) {
                  finished.incrementAndGet();
                }
              });
    }

    /** Waits for a GC run that started after now, and for the outbox to drain. */
    void awaitOneMore(Store store, int before) {
      await("a background gc-site ran")
          .atMost(Duration.ofSeconds(30))
          .until(() -> finished.get() > before && store.outbox().stats().undelivered() == 0);
    }
  }

  static List<DeployId> trashed(DurableDeploy host) {
    return host.deploys().trash(SITE).stream().map(Tombstone::deployId).toList();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("stores")
  void restoredDeploysSurviveTheBackgroundGcEveryTime(
      String name, Function<MutableClock, Store> stores) {
    MutableClock clock = new MutableClock();
    Store store = stores.apply(clock);
    Path root = dir.resolve("blobs");
    BlobStore blobsA = new FileSystemBlobStore(root);
    BlobStore blobsB = new FileSystemBlobStore(root);
    GcRuns gc = new GcRuns();
    try (DurableDeploy a = host("host-a", store, blobsA, clock);
        DurableDeploy b = host("host-b", store, blobsB, clock)) {
      gc.watch(a);
      gc.watch(b);
      List<Deploy> six = new ArrayList<>();
      for (int i = 0; i < 6; i++) {
        DurableDeploy via = i % 2 == 0 ? a : b;
        Deploy d = via.deploys().init(SITE, null);
        byte[] html = bytes("<h1>" + i + "</h1>");
        via.deploys()
            .upload(
                SITE, d.id(), UploadPath.INDEX_HTML, new ByteArrayInputStream(html), html.length);
        via.deploys().finalizeDeploy(SITE, d.id(), AliasName.PRODUCTION, Manifest.of("index.html"));
        six.add(d);
        clock.advance(Duration.ofHours(1));
      }
      clock.advance(Duration.ofDays(10));
      await().atMost(Duration.ofSeconds(30)).until(() -> store.outbox().stats().undelivered() == 0);
      // The finalizes' own background GC may already have run on the advanced clock.
      int direct = gc.finished.get();
      a.gc().run(SITE, false);
      // Its Succeeded event arrives asynchronously: counted before the next wait starts.
      await().atMost(Duration.ofSeconds(30)).until(() -> gc.finished.get() > direct);
      await().atMost(Duration.ofSeconds(30)).until(() -> store.outbox().stats().undelivered() == 0);
      assertThat(trashed(a))
          .containsExactlyElementsOf(six.subList(0, 3).stream().map(Deploy::id).toList());
      DeployId oldest = six.get(0).id();

      // Restore on A; the GC its site.changed triggers runs in the background on A or B.
      int before = gc.finished.get();
      a.deploys().restore(SITE, oldest);
      gc.awaitOneMore(store, before);
      assertThat(trashed(b)).doesNotContain(oldest);
      GcPlan plan = b.gc().plan(SITE);
      assertThat(plan.keeps())
          .filteredOn(k -> k.deployId().equals(oldest))
          .singleElement()
          .satisfies(k -> assertThat(k.reasons()).containsExactly(KeepReason.RESTORED));

      // The daily sweep, 30 s later, has nothing to submit for the site.
      clock.advance(Duration.ofSeconds(30));
      assertThat(b.gcSweep().run().sitesSubmitted()).isZero();

      // The user deletes it again (on B), then changes their mind (on B): restored again.
      before = gc.finished.get();
      b.deploys().delete(SITE, oldest);
      gc.awaitOneMore(store, before);
      before = gc.finished.get();
      b.deploys().restore(SITE, oldest);
      gc.awaitOneMore(store, before);
      assertThat(trashed(a)).doesNotContain(oldest);
      assertThat(a.deploys().deploy(SITE, oldest)).isPresent();

      // Rolling production back to it and away again (a release of it) changes nothing.
      before = gc.finished.get();
      var prod = a.deploys().aliases(SITE).get(0);
      a.deploys()
          .rollback(
              SITE,
              AliasName.PRODUCTION,
              oldest,
              dev.durabledeploy.spi.metadata.AliasExpectation.version(prod.version()));
      a.deploys()
          .rollback(
              SITE,
              AliasName.PRODUCTION,
              six.get(5).id(),
              dev.durabledeploy.spi.metadata.AliasExpectation.version(prod.version() + 1));
      gc.awaitOneMore(store, before);
      assertThat(trashed(a)).doesNotContain(oldest);

      // 71 h after the last restore it is still kept; past 72 h the next change's GC trashes it.
      clock.advance(Duration.ofHours(71));
      int dryRuns = gc.finished.get();
      assertThat(a.gc().run(SITE, true).plan().trash()).doesNotContain(oldest);
      // A dry run is a "gc" operation too: its Succeeded event is counted before the next wait.
      await().atMost(Duration.ofSeconds(30)).until(() -> gc.finished.get() > dryRuns);
      clock.advance(Duration.ofHours(2));
      before = gc.finished.get();
      Deploy next = a.deploys().init(SITE, null); // a site.changed
      gc.awaitOneMore(store, before);
      assertThat(trashed(a)).contains(oldest);
      assertThat(next).isNotNull();
      // And restorable again, for another grace period.
      before = gc.finished.get();
      a.deploys().restore(SITE, oldest);
      gc.awaitOneMore(store, before);
      assertThat(trashed(b)).doesNotContain(oldest);
    } finally {
      blobsA.close();
      blobsB.close();
      store.close();
    }
  }
}
