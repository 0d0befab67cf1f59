package dev.durabledeploy.core.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.durabledeploy.core.DeployOptions;
import dev.durabledeploy.core.DurableDeploy;
import dev.durabledeploy.core.reconcile.Drift;
import dev.durabledeploy.core.reconcile.DriftKind;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.UploadPath;
import dev.durabledeploy.spi.blob.BlobContent;
import dev.durabledeploy.spi.blob.BlobInfo;
import dev.durabledeploy.spi.blob.BlobPrefix;
import dev.durabledeploy.spi.blob.BlobStore;
import dev.durabledeploy.spi.exception.DeployNotFoundException;
import dev.durabledeploy.spi.exception.DeployStateException;
import dev.durabledeploy.spi.exception.TransientStoreException;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.spi.metadata.DeployState;
import dev.durabledeploy.spi.retry.RetryPolicy;
import dev.durabledeploy.store.memory.InMemoryStore;
import dev.durabledeploy.store.memory.InMemoryWorkflowEngine;
import dev.durabledeploy.testkit.FaultInjectingBlobStore;
import dev.durabledeploy.testkit.GatedInputStream;
import dev.durabledeploy.testkit.MutableClock;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Uploads racing the operations that end a deploy's pending life (finalize, delete, restore,
 * purgeSite, GC's trash move), forced with real threads and a {@link GatedInputStream}. Each blob
 * store runs the same races: a subclass supplies it.
 */
abstract class UploadRaces {

  static final SiteId SITE = SiteId.of("race-site");
  static final AliasName PROD = AliasName.PRODUCTION;
  static final Duration WAIT = Duration.ofSeconds(20);

  final MutableClock clock = new MutableClock();
  @TempDir Path dir;
  InMemoryStore store;
  BlobStore raw;
  FaultInjectingBlobStore blobs;
  DurableDeploy plane;
  DeployService deploys;
  ExecutorService pool;

  /** The blob store under test, empty, rooted in {@code dir} if it needs a directory. */
  abstract BlobStore createBlobStore(Path dir, MutableClock clock);

  @BeforeEach
  void buildPlane() {
    store = new InMemoryStore(clock);
    raw = createBlobStore(dir, clock);
    blobs = new FaultInjectingBlobStore(raw);
    plane =
        DurableDeploy.builder()
            .store(store)
            .blobStore(blobs)
            .engine(new InMemoryWorkflowEngine())
            .clock(clock)
            .random(new SplittableRandom(7))
            .sleeper(d -> {})
            .retryPolicy(
                RetryPolicy.defaults().withBackoff(Duration.ofMillis(1), Duration.ofMillis(5), 2.0))
            .options(DeployOptions.builder().lockTimeout(Duration.ofSeconds(20)).build())
            .instanceId("race-host")
            .build();
    deploys = plane.deploys();
    pool = Executors.newCachedThreadPool();
  }

  @AfterEach
  void close() {
    pool.shutdownNow();
    plane.close();
  }

  static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  BlobInfo upload(DeployId id, String path, String content) {
    byte[] b = bytes(content);
    return deploys.upload(SITE, id, UploadPath.of(path), new ByteArrayInputStream(b), b.length);
  }

  /** Starts an upload whose body blocks until the returned stream's gate opens. */
  Future<BlobInfo> gatedUpload(DeployId id, String path, GatedInputStream body, int size) {
    Future<BlobInfo> future =
        pool.submit(() -> deploys.upload(SITE, id, UploadPath.of(path), body, size));
    body.awaitReading(WAIT);
    return future;
  }

  String served(DeployId id, String path) {
    try (BlobContent c =
        raw.get(BlobLayout.deploy(SITE, id).resolve(path)).orElseThrow(AssertionError::new)) {
      return new String(c.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  static Throwable failure(Future<?> future) throws InterruptedException {
    try {
      future.get(WAIT.toSeconds(), TimeUnit.SECONDS);
      throw new AssertionError("expected the upload to fail");
    } catch (ExecutionException e) {
      return e.getCause();
    } catch (java.util.concurrent.TimeoutException e) {
      throw new AssertionError("the upload did not finish", e);
    }
  }

  @Test
  @DisplayName(
      "re-uploading a file while finalize verifies the deploy fails and leaves the verified bytes")
  void replaceRacingFinalize() throws Exception {
    Deploy d = deploys.init(SITE, null);
    upload(d.id(), "index.html", "v1");
    GatedInputStream second = new GatedInputStream(bytes("v2"));
    Future<BlobInfo> upload = gatedUpload(d.id(), "index.html", second, 2);

    Future<Finalized> finalize =
        pool.submit(() -> deploys.finalizeDeploy(SITE, d.id(), PROD, Manifest.of("index.html")));
    Finalized finalized = finalize.get(WAIT.toSeconds(), TimeUnit.SECONDS);
    assertThat(finalized.deploy().state()).isEqualTo(DeployState.ACTIVE);
    second.open();

    assertThat(failure(upload)).isInstanceOf(DeployStateException.class);
    assertThat(served(d.id(), "index.html")).isEqualTo("v1");
    assertThatThrownBy(() -> upload(d.id(), "index.html", "v3"))
        .isInstanceOf(DeployStateException.class);
    assertThat(served(d.id(), "index.html")).isEqualTo("v1");
  }

  // ---- helpers ---------------------------------------------------------------------------------

  List<String> keys(BlobPrefix prefix) {
    return raw.listAll(prefix).stream().map(i -> i.key().value()).toList();
  }

  List<String> live(DeployId id) {
    BlobPrefix prefix = BlobLayout.deploy(SITE, id);
    return raw.listAll(prefix).stream().map(i -> i.key().relativeTo(prefix)).toList();
  }

  List<String> trashed(DeployId id) {
    BlobPrefix prefix = BlobLayout.trash(SITE, id);
    return raw.listAll(prefix).stream().map(i -> i.key().relativeTo(prefix)).toList();
  }

  Marker marker(DeployId id) {
    try (BlobContent c = raw.get(BlobLayout.marker(SITE, id)).orElseThrow()) {
      return Marker.parse(c.readAllBytes());
    }
  }

  /** A pending deploy holding index.html ("v1"). */
  Deploy pendingWithIndex() {
    Deploy d = deploys.init(SITE, null);
    upload(d.id(), "index.html", "v1");
    return d;
  }

  /** Runs {@code step} on another thread and waits for it: a concurrent caller of the API. */
  <T> T concurrently(java.util.concurrent.Callable<T> step) {
    try {
      return pool.submit(step).get(WAIT.toSeconds(), TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      throw e.getCause() instanceof RuntimeException r ? r : new IllegalStateException(e);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * The next blob call to finish is the upload's write: run {@code step} right after it took
   * effect, before the upload goes on.
   */
  void afterTheWrite(Runnable step) {
    blobs.afterCall(1, step);
  }

  /**
   * The next blob call is the upload's write: it takes effect, then the process dies. Set it before
   * the upload starts: a call's fault is decided when the call begins.
   */
  void dieAfterTheWrite() {
    blobs
        .failOnCall(1, FaultInjectingBlobStore.When.AFTER)
        .throwing(
            () -> {
              // From the write on, nothing the process asks of the bucket gets done (it died), so
              // the upload cannot settle what it wrote: the file is left as a dead process leaves
              // it, until heal().
              blobs.failRandomly(1.0, new SplittableRandom(0));
              return new IllegalStateException("the uploading process died");
            });
  }

  // ---- finalize --------------------------------------------------------------------------------

  @Test
  @DisplayName("a new file written before finalize's seal is part of what finalize verified")
  void newFileBeforeSeal() {
    Deploy d = pendingWithIndex();
    afterTheWrite(
        () ->
            concurrently(
                () ->
                    deploys.finalizeDeploy(
                        SITE, d.id(), PROD, Manifest.of("index.html", "app.js"))));
    BlobInfo stored = upload(d.id(), "app.js", "console.log(1)");
    assertThat(stored.sha256()).isNotNull();
    assertThat(deploys.deploy(SITE, d.id()).orElseThrow().state()).isEqualTo(DeployState.ACTIVE);
    assertThat(served(d.id(), "app.js")).isEqualTo("console.log(1)");
    assertThat(marker(d.id()).verified()).containsKeys("index.html", "app.js");
    assertThat(marker(d.id()).verified().get("app.js").sha256()).isEqualTo(stored.sha256());
  }

  @Test
  @DisplayName("a new file written after finalize listed the deploy is withdrawn; the upload fails")
  void newFileAfterListing() throws Exception {
    Deploy d = pendingWithIndex();
    GatedInputStream late = new GatedInputStream(bytes("late"));
    Future<BlobInfo> upload = gatedUpload(d.id(), "late.js", late, 4);
    concurrently(() -> deploys.finalizeDeploy(SITE, d.id(), PROD, Manifest.of("index.html")));
    late.open();
    assertThat(failure(upload))
        .isInstanceOfSatisfying(
            DeployStateException.class, e -> assertThat(e.state()).isEqualTo(DeployState.ACTIVE));
    assertThat(live(d.id())).containsExactly(BlobLayout.MARKER_NAME, "index.html");
    assertThat(served(d.id(), "index.html")).isEqualTo("v1");
  }

  @Test
  @DisplayName(
      "a file written while a finalize fails its verification stays: the deploy is pending")
  void uploadDuringFailedFinalize() {
    Deploy d = pendingWithIndex();
    afterTheWrite(
        () ->
            assertThatThrownBy(
                    () ->
                        concurrently(
                            () ->
                                deploys.finalizeDeploy(
                                    SITE, d.id(), PROD, Manifest.of("index.html", "missing.js"))))
                .isInstanceOf(ManifestIncompleteException.class));
    upload(d.id(), "app.js", "1");
    assertThat(deploys.deploy(SITE, d.id()).orElseThrow().state()).isEqualTo(DeployState.PENDING);
    assertThat(live(d.id())).contains("app.js", "index.html");
    upload(d.id(), "missing.js", "2");
    deploys.finalizeDeploy(SITE, d.id(), PROD, Manifest.of("index.html", "missing.js", "app.js"));
    assertThat(deploys.deploy(SITE, d.id()).orElseThrow().state()).isEqualTo(DeployState.ACTIVE);
  }

  @Test
  @DisplayName(
      "a create whose answer is lost after the object was stored is withdrawn from the deploy"
          + " finalized meanwhile")
  void createAnswerLostAfterFinalize() throws Exception {
    Deploy d = pendingWithIndex();
    GatedInputStream late = new GatedInputStream(bytes("late"));
    Future<BlobInfo> upload = gatedUpload(d.id(), "late.js", late, 4);
    concurrently(() -> deploys.finalizeDeploy(SITE, d.id(), PROD, Manifest.of("index.html")));
    // The upload's create is the next call to finish: it stores the file, and its answer is lost.
    blobs.afterCall(
        1,
        () -> {
          throw new TransientStoreException("connection reset after the object was stored");
        });
    late.open();
    Throwable failure = failure(upload);
    assertThat(failure)
        .isInstanceOfSatisfying(
            DeployStateException.class, e -> assertThat(e.state()).isEqualTo(DeployState.ACTIVE));
    assertThat(failure.getSuppressed())
        .anySatisfy(lost -> assertThat(lost).hasMessageContaining("connection reset"));
    assertThat(live(d.id())).containsExactly(BlobLayout.MARKER_NAME, "index.html");
    assertThat(plane.reconciler().reconcile(SITE, false).isClean()).isTrue();
  }

  @Test
  @DisplayName(
      "a create whose answer is lost while the deploy is pending reports the failure; sent again,"
          + " the file is replaced")
  void createAnswerLostWhilePending() {
    Deploy d = pendingWithIndex();
    blobs.afterCall(
        1,
        () -> {
          throw new TransientStoreException("connection reset after the object was stored");
        });
    assertThatThrownBy(() -> upload(d.id(), "app.js", "1"))
        .isInstanceOf(TransientStoreException.class);
    assertThat(served(d.id(), "app.js")).isEqualTo("1");
    upload(d.id(), "app.js", "2");
    assertThat(served(d.id(), "app.js")).isEqualTo("2");
    deploys.finalizeDeploy(SITE, d.id(), PROD, Manifest.of("index.html", "app.js"));
    assertThat(marker(d.id()).verified()).containsOnlyKeys("index.html", "app.js");
  }

  @Test
  @DisplayName(
      "a file written after a finalize listed the deploy and crashed is left for the resumed"
          + " finalize: the upload fails with UploadUnsettledException after its deadline")
  void uploadIntoCrashedFinalize() throws Exception {
    Deploy d = pendingWithIndex();
    // A host whose waits pass on the test clock, so the settle deadline comes without waiting.
    DurableDeploy patient =
        DurableDeploy.builder()
            .store(store)
            .blobStore(blobs)
            .engine(new InMemoryWorkflowEngine())
            .clock(clock)
            .random(new SplittableRandom(9))
            .sleeper(clock::advance)
            .options(DeployOptions.builder().lockTimeout(Duration.ofSeconds(20)).build())
            .instanceId("race-host-patient")
            .build();
    others.add(patient);
    GatedInputStream late = new GatedInputStream(bytes("late"));
    Future<BlobInfo> upload =
        pool.submit(
            () -> patient.deploys().upload(SITE, d.id(), UploadPath.of("late.js"), late, 4));
    late.awaitReading(WAIT);
    // finalize's blob calls: the listing (1), the marker (2), where it crashes: still sealed.
    blobs
        .failOnCall(2, FaultInjectingBlobStore.When.BEFORE)
        .throwing(() -> new IllegalStateException("crash before the marker"));
    assertThatThrownBy(() -> deploys.finalizeDeploy(SITE, d.id(), PROD, Manifest.of("index.html")))
        .hasMessageContaining("crash");
    blobs.heal();
    java.time.Instant wrote = clock.instant();
    late.open();
    assertThat(failure(upload))
        .isInstanceOfSatisfying(
            UploadUnsettledException.class,
            e -> {
              assertThat(e.lastSeen()).contains(DeployState.FINALIZING);
              assertThat(e.path()).isEqualTo(UploadPath.of("late.js"));
            });
    assertThat(Duration.between(wrote, clock.instant()))
        .isGreaterThanOrEqualTo(DeployService.SETTLE_TIMEOUT);
    assertThat(live(d.id())).containsExactly("index.html", "late.js");
    Finalized resumed = deploys.finalizeDeploy(SITE, d.id(), PROD, Manifest.of("index.html"));
    assertThat(resumed.deploy().state()).isEqualTo(DeployState.ACTIVE);
    assertThat(marker(d.id()).verified()).containsOnlyKeys("index.html", "late.js");
    assertThat(plane.reconciler().reconcile(SITE, false).isClean()).isTrue();
  }

  @Test
  @DisplayName(
      "a finalize that crashed leaves the deploy sealed: uploads are refused until it runs")
  void crashedFinalizeIsResumed() {
    Deploy d = pendingWithIndex();
    // finalize's blob calls: the listing (1), the marker (2)
    blobs
        .failOnCall(2, FaultInjectingBlobStore.When.BEFORE)
        .throwing(() -> new IllegalStateException("crash before the marker"));
    assertThatThrownBy(() -> deploys.finalizeDeploy(SITE, d.id(), PROD, Manifest.of("index.html")))
        .hasMessageContaining("crash");
    blobs.heal();
    assertThat(deploys.deploy(SITE, d.id()).orElseThrow().state())
        .isEqualTo(DeployState.FINALIZING);
    assertThatThrownBy(() -> upload(d.id(), "index.html", "v2"))
        .isInstanceOfSatisfying(
            DeployStateException.class,
            e -> assertThat(e.state()).isEqualTo(DeployState.FINALIZING));
    assertThatThrownBy(() -> upload(d.id(), "new.js", "x"))
        .isInstanceOf(DeployStateException.class);
    Finalized resumed = deploys.finalizeDeploy(SITE, d.id(), PROD, Manifest.of("index.html"));
    assertThat(resumed.deploy().state()).isEqualTo(DeployState.ACTIVE);
    assertThat(live(d.id())).containsExactly(BlobLayout.MARKER_NAME, "index.html");
    assertThat(served(d.id(), "index.html")).isEqualTo("v1");
  }

  @Test
  @DisplayName("uploads of different new files run at once: none of them holds the site lock")
  void newFilesInParallel() throws Exception {
    Deploy d = pendingWithIndex();
    List<GatedInputStream> bodies = new java.util.ArrayList<>();
    List<Future<BlobInfo>> uploads = new java.util.ArrayList<>();
    for (int i = 0; i < 4; i++) {
      GatedInputStream body = new GatedInputStream(bytes("file " + i));
      bodies.add(body);
      uploads.add(gatedUpload(d.id(), "f" + i + ".js", body, 6));
    }
    // All four are inside their writes now; the site lock is free.
    try (var lock = store.siteLocks().acquire(SITE, Duration.ofSeconds(1))) {
      assertThat(lock.isHeld()).isTrue();
    }
    bodies.forEach(GatedInputStream::open);
    for (Future<BlobInfo> upload : uploads) {
      assertThat(upload.get(WAIT.toSeconds(), TimeUnit.SECONDS).size()).isEqualTo(6);
    }
    assertThat(live(d.id())).containsExactly("f0.js", "f1.js", "f2.js", "f3.js", "index.html");
  }

  /** A second host on the same stores: its own files-per-deploy counter, seeded on first use. */
  DeployService otherHost() {
    DurableDeploy other =
        DurableDeploy.builder()
            .store(store)
            .blobStore(blobs)
            .engine(new InMemoryWorkflowEngine())
            .clock(clock)
            .random(new SplittableRandom(8))
            .sleeper(d -> {})
            .options(DeployOptions.builder().lockTimeout(Duration.ofSeconds(20)).build())
            .instanceId("race-host-2")
            .build();
    others.add(other);
    return other.deploys();
  }

  final List<DurableDeploy> others = new java.util.ArrayList<>();

  @AfterEach
  void closeOthers() {
    others.forEach(DurableDeploy::close);
  }

  @Test
  @DisplayName(
      "a path another host created meanwhile is refused with UploadConflictException; sent again,"
          + " it replaces the file")
  void pathCreatedByAnotherHost() {
    Deploy d = pendingWithIndex();
    DeployService b = otherHost();
    byte[] seed = bytes("b");
    b.upload(SITE, d.id(), UploadPath.of("b.js"), new ByteArrayInputStream(seed), 1);
    upload(d.id(), "shared.js", "from host A");
    byte[] mine = bytes("from host B");
    assertThatThrownBy(
            () ->
                b.upload(
                    SITE,
                    d.id(),
                    UploadPath.of("shared.js"),
                    new ByteArrayInputStream(mine),
                    mine.length))
        .isInstanceOfSatisfying(
            UploadConflictException.class,
            e -> assertThat(e.path()).isEqualTo(UploadPath.of("shared.js")));
    assertThat(served(d.id(), "shared.js")).isEqualTo("from host A");
    b.upload(SITE, d.id(), UploadPath.of("shared.js"), new ByteArrayInputStream(mine), mine.length);
    assertThat(served(d.id(), "shared.js")).isEqualTo("from host B");
  }

  // ---- delete ----------------------------------------------------------------------------------

  @Test
  @DisplayName("an upload written after delete moved the deploy to trash is withdrawn")
  void uploadAfterDelete() throws Exception {
    Deploy d = pendingWithIndex();
    GatedInputStream body = new GatedInputStream(bytes("late"));
    Future<BlobInfo> upload = gatedUpload(d.id(), "late.js", body, 4);
    concurrently(() -> deploys.delete(SITE, d.id()));
    body.open();
    assertThat(failure(upload)).isInstanceOf(DeployNotFoundException.class);
    assertThat(live(d.id())).isEmpty();
    assertThat(trashed(d.id())).containsExactly("index.html");
  }

  @Test
  @DisplayName(
      "an upload written before delete's move is in trash with its deploy, under the tombstone")
  void uploadBeforeDeleteMove() {
    Deploy d = pendingWithIndex();
    afterTheWrite(() -> concurrently(() -> deploys.delete(SITE, d.id())));
    assertThatThrownBy(() -> upload(d.id(), "early.js", "early"))
        .isInstanceOf(DeployNotFoundException.class);
    assertThat(live(d.id())).isEmpty();
    assertThat(trashed(d.id())).containsExactly("early.js", "index.html");
    assertThat(deploys.trash(SITE)).extracting(t -> t.deployId()).containsExactly(d.id());
  }

  // ---- restore ---------------------------------------------------------------------------------

  @Test
  @DisplayName(
      "an upload that outlives a delete and the restore after it belongs to the live deploy")
  void uploadAcrossDeleteAndRestore() throws Exception {
    Deploy d = pendingWithIndex();
    GatedInputStream body = new GatedInputStream(bytes("kept"));
    Future<BlobInfo> upload = gatedUpload(d.id(), "kept.js", body, 4);
    concurrently(() -> deploys.delete(SITE, d.id()));
    concurrently(() -> deploys.restore(SITE, d.id()));
    body.open();
    assertThat(upload.get(WAIT.toSeconds(), TimeUnit.SECONDS).size()).isEqualTo(4);
    assertThat(live(d.id())).containsExactly("index.html", "kept.js");
    assertThat(trashed(d.id())).isEmpty();
    assertThat(deploys.deploy(SITE, d.id()).orElseThrow().isPending()).isTrue();
  }

  @Test
  @DisplayName(
      "an upload written into a deleted deploy that is restored before it settles stays in it")
  void uploadSettlesAfterRestore() throws Exception {
    Deploy d = pendingWithIndex();
    GatedInputStream body = new GatedInputStream(bytes("kept"));
    Future<BlobInfo> upload = gatedUpload(d.id(), "kept.js", body, 4);
    concurrently(() -> deploys.delete(SITE, d.id()));
    // The write lands in the live prefix of a deleted deploy; the restore runs before the upload
    // reads the deploy's state again.
    afterTheWrite(() -> concurrently(() -> deploys.restore(SITE, d.id())));
    body.open();
    assertThat(upload.get(WAIT.toSeconds(), TimeUnit.SECONDS).size()).isEqualTo(4);
    assertThat(live(d.id())).containsExactly("index.html", "kept.js");
    assertThat(trashed(d.id())).isEmpty();
    assertThat(deploys.trash(SITE)).isEmpty();
  }

  // ---- purgeSite -------------------------------------------------------------------------------

  @Test
  @DisplayName("an upload written after purgeSiteNow is withdrawn: nothing of the site is left")
  void uploadAfterPurge() throws Exception {
    Deploy d = pendingWithIndex();
    GatedInputStream body = new GatedInputStream(bytes("late"));
    Future<BlobInfo> upload = gatedUpload(d.id(), "late.js", body, 4);
    concurrently(() -> deploys.purgeSiteNow(SITE));
    body.open();
    assertThat(failure(upload)).isInstanceOf(DeployNotFoundException.class);
    assertThat(keys(BlobLayout.site(SITE))).isEmpty();
    assertThat(keys(BlobLayout.trash(SITE))).isEmpty();
    assertThat(deploys.deploys(SITE)).isEmpty();
  }

  @Test
  @DisplayName("an upload written before purgeSiteNow deleted the bytes goes with the site")
  void uploadBeforePurge() {
    Deploy d = pendingWithIndex();
    afterTheWrite(() -> concurrently(() -> deploys.purgeSiteNow(SITE)));
    assertThatThrownBy(() -> upload(d.id(), "early.js", "early"))
        .isInstanceOf(DeployNotFoundException.class);
    assertThat(keys(BlobLayout.site(SITE))).isEmpty();
    assertThat(keys(BlobPrefix.ROOT)).isEmpty();
  }

  @Test
  @DisplayName("an upload landing while purgeSiteNow deletes the bytes finds its deploy gone")
  void uploadBetweenPurgeBytesAndRows() {
    Deploy d = pendingWithIndex();
    // purgeSite's blob calls: its intent (1), then (after the rows) the site's bytes (2) and the
    // trash. An upload landing after the rows went finds no deploy to report success into.
    java.util.concurrent.atomic.AtomicReference<Object> outcome =
        new java.util.concurrent.atomic.AtomicReference<>();
    blobs.afterCall(
        2,
        () -> {
          try {
            outcome.set(concurrently(() -> upload(d.id(), "between.js", "between")));
          } catch (RuntimeException refused) {
            outcome.set(refused);
          }
        });
    deploys.purgeSiteNow(SITE);
    // Found by the reliability harness's race-purge seam when purgeSite deleted bytes before rows:
    // the upload read its deploy as pending and reported success, and its bytes outlived the
    // purge. Rows first, the upload is refused and nothing of the site remains.
    assertThat(outcome.get()).isInstanceOf(DeployNotFoundException.class);
    assertThat(keys(BlobLayout.site(SITE))).isEmpty();
    assertThat(keys(BlobPrefix.ROOT)).isEmpty();
    assertThat(deploys.deploys(SITE)).isEmpty();
  }

  @Test
  @DisplayName("an upload written after purgeSite (trash) is withdrawn; a restore brings no trace")
  void uploadAfterTrash() throws Exception {
    Deploy live = pendingWithIndex();
    deploys.finalizeDeploy(SITE, live.id(), PROD, Manifest.of("index.html"));
    Deploy d = deploys.init(SITE, null);
    upload(d.id(), "index.html", "pending");
    GatedInputStream body = new GatedInputStream(bytes("late"));
    Future<BlobInfo> upload = gatedUpload(d.id(), "late.js", body, 4);
    concurrently(() -> deploys.purgeSite(SITE));
    body.open();
    assertThat(failure(upload)).isInstanceOf(DeployNotFoundException.class);
    assertThat(keys(BlobLayout.site(SITE))).isEmpty();
    assertThat(keys(BlobLayout.siteTrash(SITE))).noneMatch(k -> k.contains(d.id().value()));
    deploys.restoreSite(SITE);
    assertThat(deploys.deploys(SITE)).extracting(Deploy::id).containsExactly(live.id());
    assertThat(keys(BlobPrefix.ROOT)).noneMatch(k -> k.contains(d.id().value()));
  }

  @Test
  @DisplayName(
      "an upload landing between purgeSite's record and its byte moves finds its deploy gone")
  void uploadBetweenTrashRecordAndMove() {
    Deploy d = pendingWithIndex();
    // purgeSite's blob calls: the check for an unfinished purge (1), the look for bytes (2), then
    // after its record the projection's deletion (3), the move to the site trash (4) and the
    // abandoned deploy's bytes deleted there (5). The upload lands between record and move.
    java.util.concurrent.atomic.AtomicReference<Object> outcome =
        new java.util.concurrent.atomic.AtomicReference<>();
    blobs.afterCall(
        3,
        () -> {
          try {
            outcome.set(concurrently(() -> upload(d.id(), "between.js", "between")));
          } catch (RuntimeException refused) {
            outcome.set(refused);
          }
        });
    deploys.purgeSite(SITE);
    assertThat(outcome.get()).isInstanceOf(DeployNotFoundException.class);
    assertThat(keys(BlobPrefix.ROOT)).isEmpty();
    assertThat(deploys.deploys(SITE)).isEmpty();
  }

  @Test
  @DisplayName("every step of a pipeline on a site purged mid-way is a clean no-op")
  void pipelineOnPurgedSite() {
    Deploy d = pendingWithIndex();
    upload(d.id(), "app.js", "1");
    deploys.purgeSiteNow(SITE);
    assertThatThrownBy(() -> upload(d.id(), "more.js", "2"))
        .isInstanceOf(DeployNotFoundException.class);
    assertThatThrownBy(() -> upload(d.id(), "app.js", "3"))
        .isInstanceOf(DeployNotFoundException.class);
    assertThatThrownBy(
            () -> deploys.finalizeDeploy(SITE, d.id(), PROD, Manifest.of("index.html", "app.js")))
        .isInstanceOf(DeployNotFoundException.class);
    assertThat(plane.gc().run(SITE, false).trashed()).isEmpty();
    assertThat(plane.reconciler().reconcile(SITE, false).isClean()).isTrue();
    assertThat(keys(BlobPrefix.ROOT)).isEmpty();
    assertThat(deploys.deploys(SITE)).isEmpty();
    assertThat(deploys.trash(SITE)).isEmpty();
  }

  // ---- GC --------------------------------------------------------------------------------------

  @Test
  @DisplayName("an upload into a stale pending deploy that GC trashes meanwhile is withdrawn")
  void uploadRacingGcTrash() throws Exception {
    Deploy d = pendingWithIndex();
    clock.advance(Duration.ofDays(10));
    GatedInputStream body = new GatedInputStream(bytes("late"));
    Future<BlobInfo> upload = gatedUpload(d.id(), "late.js", body, 4);
    assertThat(concurrently(() -> plane.gc().run(SITE, false)).trashed()).containsExactly(d.id());
    body.open();
    assertThat(failure(upload)).isInstanceOf(DeployNotFoundException.class);
    assertThat(live(d.id())).isEmpty();
    assertThat(trashed(d.id())).containsExactly("index.html");
  }

  // ---- an upload that dies before it settles: the reconciler finishes it ----------------------

  @Test
  @DisplayName("bytes an upload left in a deleted deploy's prefix are moved to trash by reconcile")
  void leftoverInDeletedDeploy() throws Exception {
    Deploy d = pendingWithIndex();
    GatedInputStream body = new GatedInputStream(bytes("late"));
    dieAfterTheWrite(); // counted from the upload's write, which is the next blob call
    Future<BlobInfo> upload = gatedUpload(d.id(), "late.js", body, 4);
    concurrently(() -> deploys.delete(SITE, d.id()));
    body.open();
    assertThat(failure(upload)).hasMessageContaining("died");
    blobs.heal();
    assertThat(live(d.id())).containsExactly("late.js");
    var report = plane.reconciler().reconcile(SITE, false);
    assertThat(report.counts()).containsEntry(DriftKind.TOMBSTONE_WITH_LIVE_BYTES, 1);
    plane.reconciler().reconcile(SITE, true);
    assertThat(live(d.id())).isEmpty();
    assertThat(trashed(d.id())).containsExactly("index.html", "late.js");
    assertThat(plane.reconciler().reconcile(SITE, false).isClean()).isTrue();
  }

  @Test
  @DisplayName(
      "bytes an upload left in a purged site are found by drift-detect, trashed past grace and"
          + " purged after the recovery window")
  void leftoverInPurgedSite() throws Exception {
    Deploy d = pendingWithIndex();
    GatedInputStream body = new GatedInputStream(bytes("late"));
    dieAfterTheWrite(); // counted from the upload's write, which is the next blob call
    Future<BlobInfo> upload = gatedUpload(d.id(), "late.js", body, 4);
    concurrently(() -> deploys.purgeSiteNow(SITE));
    body.open();
    assertThat(failure(upload)).hasMessageContaining("died");
    blobs.heal();
    assertThat(keys(BlobLayout.site(SITE))).hasSize(1);
    assertThat(plane.reconciler().detectAll())
        .filteredOn(r -> r.site().equals(SITE))
        .singleElement()
        .satisfies(
            r ->
                assertThat(r.counts())
                    .containsExactly(java.util.Map.entry(DriftKind.BYTES_WITHOUT_ROW, 1)));
    assertThat(plane.reconciler().reconcile(SITE, true).deferred()).hasSize(1);
    assertThat(keys(BlobLayout.site(SITE))).hasSize(1);
    clock.advance(plane.options().grace());
    assertThat(plane.reconciler().reconcile(SITE, true).repaired()).hasSize(1);
    assertThat(keys(BlobLayout.deploys(SITE))).isEmpty();
    assertThat(deploys.trash(SITE)).extracting(t -> t.deployId()).containsExactly(d.id());
    clock.advance(plane.options().recoveryWindow());
    plane.tombstonePurge().run();
    assertThat(keys(BlobPrefix.ROOT)).isEmpty();
    assertThat(deploys.trash(SITE)).isEmpty();
  }

  @Test
  @DisplayName(
      "a file an upload left in a finalized deploy is reported and removed past grace; the rest stays")
  void leftoverInFinalizedDeploy() throws Exception {
    Deploy d = pendingWithIndex();
    GatedInputStream body = new GatedInputStream(bytes("late"));
    dieAfterTheWrite(); // counted from the upload's write, which is the next blob call
    Future<BlobInfo> upload = gatedUpload(d.id(), "late.js", body, 4);
    concurrently(() -> deploys.finalizeDeploy(SITE, d.id(), PROD, Manifest.of("index.html")));
    body.open();
    assertThat(failure(upload)).hasMessageContaining("died");
    blobs.heal();
    var report = plane.reconciler().reconcile(SITE, false);
    assertThat(report.drifts())
        .containsExactly(
            new Drift(
                DriftKind.FILE_ADDED_AFTER_FINALIZE,
                d.id().value() + "/late.js",
                "not among the files finalize verified"));
    assertThat(plane.reconciler().reconcile(SITE, true).deferred()).hasSize(1);
    clock.advance(plane.options().grace());
    assertThat(plane.reconciler().reconcile(SITE, true).repaired())
        .filteredOn(r -> r.kind() == DriftKind.FILE_ADDED_AFTER_FINALIZE)
        .hasSize(1);
    assertThat(live(d.id())).containsExactly(BlobLayout.MARKER_NAME, "index.html");
    assertThat(served(d.id(), "index.html")).isEqualTo("v1");
    assertThat(plane.reconciler().reconcile(SITE, false).isClean()).isTrue();
  }
}
