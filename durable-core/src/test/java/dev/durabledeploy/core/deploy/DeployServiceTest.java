package dev.durabledeploy.core.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.durabledeploy.core.CoreFixture;
import dev.durabledeploy.core.DeployOptions;
import dev.durabledeploy.core.metadata.MetadataCommands;
import dev.durabledeploy.spi.Actor;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.UploadPath;
import dev.durabledeploy.spi.blob.BlobInfo;
import dev.durabledeploy.spi.blob.BlobPrefix;
import dev.durabledeploy.spi.events.LifecycleEvent;
import dev.durabledeploy.spi.events.OperationEvent;
import dev.durabledeploy.spi.exception.AliasDriftException;
import dev.durabledeploy.spi.exception.DeployAliasedException;
import dev.durabledeploy.spi.exception.DeployNotFoundException;
import dev.durabledeploy.spi.exception.DeployStateException;
import dev.durabledeploy.spi.exception.InvalidInputException;
import dev.durabledeploy.spi.exception.SiteBusyException;
import dev.durabledeploy.spi.exception.TombstoneExpiredException;
import dev.durabledeploy.spi.lock.SiteLock;
import dev.durabledeploy.spi.metadata.Alias;
import dev.durabledeploy.spi.metadata.AliasExpectation;
import dev.durabledeploy.spi.metadata.AuditEntry;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.spi.metadata.DeployState;
import dev.durabledeploy.spi.metadata.Tombstone;
import dev.durabledeploy.spi.outbox.OutboxEvent;
import dev.durabledeploy.spi.outbox.StandardEvents;
import dev.durabledeploy.testkit.FaultInjectingBlobStore;
import java.io.ByteArrayInputStream;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

@DisplayName("DeployService")
class DeployServiceTest extends CoreFixture {

  @Override
  protected DeployOptions options() {
    return DeployOptions.builder()
        .lockTimeout(Duration.ofMillis(300))
        .maxFileSize(1024)
        .maxFilesPerDeploy(5)
        .build();
  }

  private List<String> keys(BlobPrefix prefix) {
    return rawBlobs.listAll(prefix).stream().map(i -> i.key().value()).toList();
  }

  @Nested
  @DisplayName("init and upload")
  class InitAndUpload {

    @Test
    @DisplayName("init generates yyyyMMdd-HHmmss-<sha7> from the injected clock")
    void initGeneratesId() {
      clock.set(Instant.parse("2026-05-06T07:08:09Z"));
      Deploy d = deploys.init(SITE, SHA);
      assertThat(d.id().value()).isEqualTo("20260506-070809-abcdef0");
      assertThat(d.state()).isEqualTo(DeployState.PENDING);
      assertThat(d.sha()).isEqualTo(SHA);
    }

    @Test
    @DisplayName("a second init of the same sha in the same second gets its own id")
    void initCollision() {
      Deploy a = deploys.init(SITE, SHA);
      Deploy b = deploys.init(SITE, SHA);
      assertThat(b.id()).isNotEqualTo(a.id());
      assertThat(b.id().value()).startsWith(a.id().value().substring(0, 16));
    }

    @Test
    @DisplayName("uploads land under <site>/deploys/<id>/ with a content type from the extension")
    void uploads() {
      Deploy d = deploys.init(SITE, null);
      upload(d.id(), "css/site.css", "body{}");
      BlobInfo info =
          rawBlobs.stat(BlobLayout.deploy(SITE, d.id()).resolve("css/site.css")).orElseThrow();
      assertThat(info.metadata().contentType()).isEqualTo("text/css; charset=utf-8");
      assertThat(info.size()).isEqualTo(6);
    }

    @Test
    @DisplayName("bad uploads are refused naming the field (I1)")
    void badUploads() {
      Deploy d = deploys.init(SITE, null);
      assertThatThrownBy(() -> upload(d.id(), "big.bin", "x".repeat(1025)))
          .isInstanceOfSatisfying(
              InvalidInputException.class, e -> assertThat(e.field()).isEqualTo("size"));
      assertThatThrownBy(() -> upload(d.id(), BlobLayout.MARKER_NAME, "{}"))
          .isInstanceOfSatisfying(
              InvalidInputException.class, e -> assertThat(e.field()).isEqualTo("path"));
      assertThatThrownBy(() -> upload(d.id(), "../../other-site/x", "x"))
          .isInstanceOfSatisfying(
              InvalidInputException.class, e -> assertThat(e.field()).isEqualTo("path"));
      assertThatThrownBy(() -> upload(DeployId.of("20260101-000000-0000000"), "a.txt", "x"))
          .isInstanceOf(DeployNotFoundException.class);
      assertThat(keys(BlobPrefix.ROOT)).isEmpty();
    }

    @Test
    @DisplayName("a blob store fault while an upload counts the deploy's files is retried")
    void countingFaultIsRetried() {
      Deploy d = deploys.init(SITE, null);
      // The first blob call of a deploy's first upload lists the deploy to count its files.
      blobs.failOnCall(1, FaultInjectingBlobStore.When.BEFORE);
      upload(d.id(), "index.html", "<h1>v1</h1>");
      assertThat(keys(BlobLayout.deploy(SITE, d.id())))
          .containsExactly(SITE.value() + "/deploys/" + d.id().value() + "/index.html");
    }

    @Test
    @DisplayName("a deploy holds at most maxFilesPerDeploy distinct files")
    void maxFiles() {
      Deploy d = deploys.init(SITE, null);
      for (int i = 0; i < 5; i++) {
        upload(d.id(), "f" + i + ".txt", "x");
      }
      upload(d.id(), "f0.txt", "replaced");
      assertThatThrownBy(() -> upload(d.id(), "f5.txt", "x"))
          .isInstanceOfSatisfying(
              InvalidInputException.class, e -> assertThat(e.field()).isEqualTo("files"));
    }
  }

  @Nested
  @DisplayName("finalize")
  class Finalize {

    @Test
    @DisplayName(
        "writes the marker, then activates and moves the alias with its events in one command")
    void finalizes() {
      Deploy d = deploys.init(SITE, SHA);
      upload(d.id(), "index.html", "<h1>1</h1>");
      Finalized done = deploys.finalizeDeploy(SITE, d.id(), PROD, Manifest.of("index.html"));
      assertThat(done.deploy().state()).isEqualTo(DeployState.ACTIVE);
      assertThat(done.alias().target()).isEqualTo(d.id());
      assertThat(done.alias().version()).isEqualTo(1);
      assertThat(rawBlobs.stat(BlobLayout.marker(SITE, d.id()))).isPresent();
      try (var marker = rawBlobs.get(BlobLayout.marker(SITE, d.id())).orElseThrow()) {
        Marker parsed = Marker.parse(marker.readAllBytes());
        assertThat(parsed.deployId()).isEqualTo(d.id().value());
        assertThat(parsed.sha()).isEqualTo(SHA);
        assertThat(parsed.files()).isEqualTo(1);
      }
      assertThat(store.allEvents())
          .extracting(OutboxEvent::type)
          .containsSubsequence(StandardEvents.ALIAS_CHANGED, StandardEvents.SITE_CHANGED);
    }

    @Test
    @DisplayName(
        "re-running a finalize that succeeded returns the same result and changes nothing (V9)")
    void rerun() {
      Deploy d = deploys.init(SITE, SHA);
      upload(d.id(), "index.html", "<h1>1</h1>");
      Finalized first = deploys.finalizeDeploy(SITE, d.id(), PROD, Manifest.of("index.html"));
      int events = store.allEvents().size();
      clock.advance(Duration.ofMinutes(1));
      Finalized again = deploys.finalizeDeploy(SITE, d.id(), PROD, Manifest.of("index.html"));
      assertThat(again).isEqualTo(first);
      assertThat(store.allEvents()).hasSize(events);
    }

    @Test
    @DisplayName("gates apply in order: unknown, empty manifest, no index.html, missing files")
    void gates() {
      assertThatThrownBy(
              () ->
                  deploys.finalizeDeploy(
                      SITE,
                      DeployId.of("20260101-000000-0000000"),
                      PROD,
                      Manifest.of("index.html")))
          .isInstanceOf(DeployNotFoundException.class);
      Deploy d = deploys.init(SITE, null);
      assertThatThrownBy(() -> deploys.finalizeDeploy(SITE, d.id(), PROD, Manifest.of()))
          .hasMessageContaining("empty");
      assertThatThrownBy(() -> deploys.finalizeDeploy(SITE, d.id(), PROD, Manifest.of("a.js")))
          .hasMessageContaining("index.html");
      upload(d.id(), "index.html", "x");
      assertThatThrownBy(
              () ->
                  deploys.finalizeDeploy(
                      SITE, d.id(), PROD, Manifest.of("index.html", "b.css", "a.js")))
          .isInstanceOfSatisfying(
              ManifestIncompleteException.class,
              e -> {
                assertThat(e.missing())
                    .containsExactly(UploadPath.of("a.js"), UploadPath.of("b.css"));
                assertThat(e.missingCount()).isEqualTo(2);
                assertThat(e.getMessage()).contains("a.js").contains("b.css");
              });
      assertThat(deploys.deploy(SITE, d.id()).orElseThrow().state()).isEqualTo(DeployState.PENDING);
      assertThat(rawBlobs.stat(BlobLayout.marker(SITE, d.id()))).isEmpty();
    }

    @Test
    @DisplayName("a manifest longer than maxFilesPerDeploy is refused before any listing")
    void manifestTooLong() {
      Deploy d = deploys.init(SITE, null);
      upload(d.id(), "index.html", "x");
      List<String> paths = new ArrayList<>(List.of("index.html"));
      for (int i = 0; i < 10; i++) {
        paths.add(String.format("m%02d.txt", i));
      }
      assertThatThrownBy(
              () ->
                  deploys.finalizeDeploy(
                      SITE, d.id(), PROD, Manifest.of(paths.toArray(String[]::new))))
          .isInstanceOfSatisfying(
              InvalidInputException.class, e -> assertThat(e.field()).isEqualTo("manifest"))
          .hasMessageContaining("at most 5");
    }

    @Test
    @DisplayName("a long list of missing files is capped at 20 in the message, with the total")
    void missingCapped() {
      List<UploadPath> missing = new ArrayList<>();
      for (int i = 0; i < 45; i++) {
        missing.add(UploadPath.of(String.format("m%02d.txt", i)));
      }
      ManifestIncompleteException e = new ManifestIncompleteException(missing);
      assertThat(e.missing()).hasSize(20);
      assertThat(e.missingCount()).isEqualTo(45);
      assertThat(e.getMessage()).contains("m19.txt").doesNotContain("m20.txt").contains("25 more");
    }

    @Test
    @DisplayName("a finalize whose alias CAS fails stays pending and can be retried")
    void casFailureKeepsPending() {
      finalizedDeploy(PROD, "v1");
      Deploy d = deploys.init(SITE, null);
      upload(d.id(), "index.html", "x");
      assertThatThrownBy(
              () ->
                  deploys.finalizeDeploy(
                      SITE, d.id(), PROD, Manifest.of("index.html"), AliasExpectation.version(9)))
          .isInstanceOf(AliasDriftException.class);
      assertThat(deploys.deploy(SITE, d.id()).orElseThrow().state()).isEqualTo(DeployState.PENDING);
      Finalized done =
          deploys.finalizeDeploy(
              SITE, d.id(), PROD, Manifest.of("index.html"), AliasExpectation.version(1));
      assertThat(done.alias().version()).isEqualTo(2);
    }

    @Test
    @DisplayName("a crash between marker and metadata command is finished by re-running (V9)")
    void crashAfterMarker() {
      Deploy d = deploys.init(SITE, null);
      upload(d.id(), "index.html", "x");
      // The marker is written but the process dies before the metadata command.
      byte[] json = Marker.of(SITE, d.id(), null, clock.instant(), 1).toJson();
      rawBlobs.put(
          BlobLayout.marker(SITE, d.id()),
          new ByteArrayInputStream(json),
          json.length,
          dev.durabledeploy.spi.blob.BlobMetadata.ofType("application/json"));
      Finalized done = deploys.finalizeDeploy(SITE, d.id(), PROD, Manifest.of("index.html"));
      assertThat(done.deploy().isActive()).isTrue();
    }
  }

  @Nested
  @DisplayName("promote and rollback")
  class PromoteAndRollback {

    @Test
    @DisplayName(
        "promote moves the alias by CAS; a stale expectation is drift with the current value (E2)")
    void promote() {
      Deploy v1 = finalizedDeploy(PROD, "v1");
      Deploy v2 = finalizedDeploy(AliasName.PREVIEW, "v2");
      Alias moved = deploys.promote(SITE, v2.id(), PROD, AliasExpectation.current(v1.id()));
      assertThat(moved.target()).isEqualTo(v2.id());
      assertThatThrownBy(
              () -> deploys.promote(SITE, v1.id(), PROD, AliasExpectation.current(v1.id())))
          .isInstanceOfSatisfying(
              AliasDriftException.class,
              e -> assertThat(e.current().orElseThrow().target()).isEqualTo(v2.id()));
    }

    @Test
    @DisplayName("promoteAlias copies one alias's target to another")
    void promoteAlias() {
      finalizedDeploy(PROD, "v1");
      Deploy preview = finalizedDeploy(AliasName.PREVIEW, "v2");
      Alias prod = deploys.promoteAlias(SITE, AliasName.PREVIEW, PROD, AliasExpectation.version(1));
      assertThat(prod.target()).isEqualTo(preview.id());
      assertThatThrownBy(
              () -> deploys.promoteAlias(SITE, AliasName.of("nope"), PROD, AliasExpectation.ANY))
          .isInstanceOfSatisfying(
              InvalidInputException.class, e -> assertThat(e.field()).isEqualTo("from"));
    }

    @Test
    @DisplayName("rollback goes to the newest active deploy before the current target")
    void rollback() {
      Deploy v1 = finalizedDeploy(PROD, "v1");
      finalizedDeploy(AliasName.PREVIEW, "v2");
      Deploy v3 = finalizedDeploy(PROD, "v3");
      Alias back = deploys.rollback(SITE, PROD);
      assertThat(back.target()).isNotEqualTo(v3.id());
      assertThat(back.target().compareTo(v3.id())).isNegative();
      Alias explicit =
          deploys.rollback(SITE, PROD, v1.id(), AliasExpectation.version(back.version()));
      assertThat(explicit.target()).isEqualTo(v1.id());
      assertThatThrownBy(() -> deploys.rollback(SITE, PROD))
          .isInstanceOf(DeployStateException.class);
    }

    @Test
    @DisplayName(
        "32 threads promoting one alias by CAS: final version = 1 + successes, no lost update")
    void concurrentPromotes() throws Exception {
      List<Deploy> targets = new ArrayList<>();
      targets.add(finalizedDeploy(PROD, "v0"));
      for (int i = 1; i < 4; i++) {
        targets.add(finalizedDeploy(AliasName.of("slot-" + i), "v" + i));
      }
      AtomicInteger successes = new AtomicInteger();
      AtomicInteger drifts = new AtomicInteger();
      ExecutorService pool = Executors.newFixedThreadPool(32);
      CountDownLatch start = new CountDownLatch(1);
      try {
        List<Future<?>> futures = new ArrayList<>();
        for (int t = 0; t < 32; t++) {
          int thread = t;
          futures.add(
              pool.submit(
                  () -> {
                    start.await();
                    for (int i = 0; i < 10; i++) {
                      Alias seen =
                          deploys.aliases(SITE).stream()
                              .filter(a -> a.name().equals(PROD))
                              .findFirst()
                              .orElseThrow();
                      Deploy target = targets.get((thread + i) % targets.size());
                      if (target.id().equals(seen.target())) {
                        target = targets.get((thread + i + 1) % targets.size());
                      }
                      try {
                        deploys.promote(
                            SITE, target.id(), PROD, AliasExpectation.version(seen.version()));
                        successes.incrementAndGet();
                      } catch (AliasDriftException | SiteBusyException e) {
                        drifts.incrementAndGet();
                      }
                    }
                    return null;
                  }));
        }
        start.countDown();
        for (Future<?> f : futures) {
          f.get(120, TimeUnit.SECONDS);
        }
      } finally {
        pool.shutdownNow();
      }
      assertThat(successes.get() + drifts.get()).isEqualTo(320);
      Alias finalAlias =
          deploys.aliases(SITE).stream()
              .filter(a -> a.name().equals(PROD))
              .findFirst()
              .orElseThrow();
      assertThat(finalAlias.version()).isEqualTo(1L + successes.get());
    }
  }

  @Nested
  @DisplayName("delete and restore")
  class DeleteAndRestore {

    @Test
    @DisplayName("a deploy an alias targets is never deleted (V1)")
    void aliasedRefused() {
      Deploy v1 = finalizedDeploy(PROD, "v1");
      assertThatThrownBy(() -> deploys.delete(SITE, v1.id()))
          .isInstanceOf(DeployAliasedException.class);
      assertThat(keys(BlobLayout.deploy(SITE, v1.id()))).isNotEmpty();
      assertThat(keys(BlobLayout.trash(SITE))).isEmpty();
    }

    @Test
    @DisplayName("delete writes the tombstone first, then moves bytes to trash (V6)")
    void tombstoneThenMove() {
      Deploy v1 = finalizedDeploy(PROD, "v1");
      finalizedDeploy(PROD, "v2");
      List<String> before = keys(BlobLayout.deploy(SITE, v1.id()));
      // The byte move fails (process dies): the tombstone must already be committed.
      blobs
          .failOnCall(1, dev.durabledeploy.testkit.FaultInjectingBlobStore.When.BEFORE)
          .throwing(() -> new IllegalStateException("crash before the move"));
      assertThatThrownBy(() -> deploys.delete(SITE, v1.id())).hasMessageContaining("crash");
      assertThat(store.metadata().findTombstone(SITE, v1.id())).isPresent();
      assertThat(keys(BlobLayout.deploy(SITE, v1.id()))).isEqualTo(before);
      blobs.heal();
      Tombstone t = deploys.delete(SITE, v1.id());
      assertThat(t.expiresAt()).isEqualTo(t.deletedAt().plus(Duration.ofDays(7)));
      assertThat(keys(BlobLayout.deploy(SITE, v1.id()))).isEmpty();
      assertThat(keys(BlobLayout.trash(SITE, v1.id()))).hasSameSizeAs(before);
      assertThat(deploys.trash(SITE)).extracting(Tombstone::deployId).containsExactly(v1.id());
    }

    @Test
    @DisplayName("restore brings bytes back, removes the tombstone and writes no alias")
    void restore() {
      Deploy v1 = finalizedDeploy(PROD, "v1");
      finalizedDeploy(PROD, "v2");
      List<String> before = keys(BlobLayout.deploy(SITE, v1.id()));
      deploys.delete(SITE, v1.id());
      Deploy restored = deploys.restore(SITE, v1.id());
      assertThat(restored.id()).isEqualTo(v1.id());
      assertThat(keys(BlobLayout.deploy(SITE, v1.id()))).isEqualTo(before);
      assertThat(deploys.trash(SITE)).isEmpty();
      assertThat(deploys.aliases(SITE)).extracting(Alias::target).doesNotContain(v1.id());
      assertThat(deploys.restore(SITE, v1.id())).isEqualTo(restored);
    }

    @Test
    @DisplayName("restore after the recovery window is refused and moves nothing")
    void restoreExpired() {
      Deploy v1 = finalizedDeploy(PROD, "v1");
      finalizedDeploy(PROD, "v2");
      deploys.delete(SITE, v1.id());
      clock.advance(Duration.ofDays(8));
      assertThatThrownBy(() -> deploys.restore(SITE, v1.id()))
          .isInstanceOf(TombstoneExpiredException.class);
      assertThat(keys(BlobLayout.deploy(SITE, v1.id()))).isEmpty();
    }

    @Test
    @DisplayName("purgeSiteNow removes every row and byte of the site, rows first")
    void purgeSite() {
      Deploy v1 = finalizedDeploy(PROD, "v1");
      finalizedDeploy(PROD, "v2");
      deploys.delete(SITE, v1.id());
      deploys.purgeSiteNow(SITE);
      assertThat(keys(BlobLayout.site(SITE))).isEmpty();
      assertThat(keys(BlobLayout.trash(SITE))).isEmpty();
      assertThat(deploys.deploys(SITE)).isEmpty();
      assertThat(deploys.trash(SITE)).isEmpty();
      assertThat(deploys.purgeSiteNow(SITE).removedAnything()).isFalse();
      assertThat(keys(BlobLayout.purgeIntents())).isEmpty();
    }

    @Test
    @DisplayName(
        "a purge that crashed after the rows is finished by the next init: the bytes go, the new"
            + " deploy stays")
    void crashedPurgeFinishedByInit() {
      Deploy old = finalizedDeploy(PROD, "v1");
      crashedPurge();
      Deploy fresh = finalizedDeploy(PROD, "v2");
      assertThat(keys(BlobLayout.deploy(SITE, old.id()))).isEmpty();
      assertThat(deploys.deploys(SITE)).extracting(Deploy::id).containsExactly(fresh.id());
      assertThat(deploys.aliases(SITE))
          .singleElement()
          .satisfies(a -> assertThat(a.version()).isEqualTo(1));
      assertThat(keys(BlobLayout.purgeIntents())).isEmpty();
      // Nothing left for a later pass to finish: the new deploy survives the cron and a repair.
      assertThat(plane.tombstonePurge().run().sitesFinished()).isZero();
      assertThat(plane.reconciler().reconcile(SITE, true).isClean()).isTrue();
      assertThat(deploys.deploys(SITE)).extracting(Deploy::id).containsExactly(fresh.id());
    }
  }

  @Nested
  @DisplayName("locking, audit and events")
  class LockingAuditEvents {

    @Test
    @DisplayName(
        "a mutation waits for the site lock and fails with SiteBusyException after its timeout (E1)")
    void siteBusy() {
      Deploy v1 = finalizedDeploy(PROD, "v1");
      try (SiteLock held = store.siteLocks().acquire(SITE, Duration.ofSeconds(1))) {
        long start = System.nanoTime();
        assertThatThrownBy(() -> deploys.promote(SITE, v1.id(), PROD, AliasExpectation.ANY))
            .isInstanceOf(SiteBusyException.class);
        assertThat(Duration.ofNanos(System.nanoTime() - start))
            .isGreaterThanOrEqualTo(Duration.ofMillis(280));
      }
      assertThat(deploys.promote(SITE, v1.id(), PROD, AliasExpectation.ANY).target())
          .isEqualTo(v1.id());
    }

    @Test
    @DisplayName("every mutation is audited with the acting user")
    void audited() {
      Deploy v1 = finalizedDeploy(PROD, "v1");
      finalizedDeploy(PROD, "v2");
      deploys.as(Actor.of("user:alice")).promote(SITE, v1.id(), PROD, AliasExpectation.ANY);
      AuditEntry last = store.metadata().auditLog(SITE, 1).get(0);
      assertThat(last.actor()).isEqualTo(Actor.of("user:alice"));
      assertThat(last.action()).isEqualTo(MetadataCommands.ACTION_ALIAS_MOVE);
      assertThat(last.after()).isEqualTo(v1.id().value());
    }

    @Test
    @DisplayName("operations report Started and Succeeded; failures Failed; gone subjects Skipped")
    void lifecycleEvents() {
      Deploy d = deploys.init(SITE, null);
      deploys.purgeSiteNow(SITE);
      assertThatThrownBy(
              () -> deploys.finalizeDeploy(SITE, d.id(), PROD, Manifest.of("index.html")))
          .isInstanceOf(DeployNotFoundException.class);
      await()
          .atMost(Duration.ofSeconds(10))
          .untilAsserted(
              () -> {
                List<OperationEvent> events = recorded.events(OperationEvent.class);
                assertThat(events)
                    .filteredOn(e -> e.operation().equals("init"))
                    .extracting(e -> e.getClass().getSimpleName())
                    .containsExactly("Started", "Succeeded");
                assertThat(events)
                    .filteredOn(e -> e.operation().equals("finalize"))
                    .extracting(e -> e.getClass().getSimpleName())
                    .containsExactly("Started", "Skipped");
              });
      OperationEvent skipped = recorded.events(OperationEvent.Skipped.class).get(0);
      assertThat(plane.events().latest(skipped.operationId())).contains(skipped);
    }

    @Test
    @DisplayName("a subscriber that throws or blocks never delays or breaks an operation")
    void subscribersIsolated() throws Exception {
      CountDownLatch never = new CountDownLatch(1);
      plane
          .events()
          .subscribe(
              e -> true,
              e -> {
                throw new IllegalStateException("subscriber bug");
              });
      plane
          .events()
          .subscribe(
              e -> true,
              e -> {
                try {
                  never.await();
                } catch (InterruptedException interrupted) {
                  Thread.currentThread().interrupt();
                }
              });
      long start = System.nanoTime();
      Deploy v1 = finalizedDeploy(PROD, "v1");
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
      assertThat(v1.isActive()).isTrue();
      await()
          .atMost(Duration.ofSeconds(10))
          .until(
              () ->
                  recorded.events(OperationEvent.Succeeded.class).stream()
                      .anyMatch(e -> e.operation().equals("finalize")));
      never.countDown();
    }

    @Test
    @DisplayName("a failure message never carries a credential into events (I2)")
    void credentialsRedacted() {
      Deploy d = deploys.init(SITE, null);
      blobs
          .failOnCall(1, dev.durabledeploy.testkit.FaultInjectingBlobStore.When.BEFORE)
          .throwing(
              () ->
                  new IllegalStateException(
                      "cannot reach https://admin:s3cr3t@bucket.example.com/x?X-Amz-Signature=deadbeef"));
      assertThatThrownBy(() -> upload(d.id(), "index.html", "x"))
          .isInstanceOf(IllegalStateException.class);
      await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> !recorded.events(OperationEvent.Failed.class).isEmpty());
      for (LifecycleEvent e : recorded.events()) {
        assertThat(e.toString()).doesNotContain("s3cr3t").doesNotContain("deadbeef");
      }
      assertThat(recorded.events(OperationEvent.Failed.class).get(0).error())
          .contains("https://***@bucket.example.com");
    }
  }

  @Test
  @DisplayName("a transient blob fault is retried with a Retrying event and the operation succeeds")
  void transientRetried() {
    Deploy d = deploys.init(SITE, null);
    upload(d.id(), "index.html", "x");
    blobs.failOnCall(1, dev.durabledeploy.testkit.FaultInjectingBlobStore.When.AFTER);
    Finalized done = deploys.finalizeDeploy(SITE, d.id(), PROD, Manifest.of("index.html"));
    assertThat(done.alias().target()).isEqualTo(d.id());
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> !recorded.events(OperationEvent.Retrying.class).isEmpty());
    assertThat(meters.get("durable.retries").counter().count()).isPositive();
  }
}
