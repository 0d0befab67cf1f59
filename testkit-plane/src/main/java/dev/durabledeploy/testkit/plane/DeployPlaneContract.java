package dev.durabledeploy.testkit.plane;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.durabledeploy.core.DeployOptions;
import dev.durabledeploy.core.DurableDeploy;
import dev.durabledeploy.core.deploy.BlobLayout;
import dev.durabledeploy.core.deploy.DeployService;
import dev.durabledeploy.core.deploy.Finalized;
import dev.durabledeploy.core.deploy.Manifest;
import dev.durabledeploy.core.deploy.Marker;
import dev.durabledeploy.core.gc.GcReport;
import dev.durabledeploy.core.reconcile.Backfill;
import dev.durabledeploy.core.reconcile.Drift;
import dev.durabledeploy.core.reconcile.DriftKind;
import dev.durabledeploy.core.reconcile.DriftReport;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.Store;
import dev.durabledeploy.spi.UploadPath;
import dev.durabledeploy.spi.blob.BlobContent;
import dev.durabledeploy.spi.blob.BlobKey;
import dev.durabledeploy.spi.blob.BlobMetadata;
import dev.durabledeploy.spi.blob.BlobPrefix;
import dev.durabledeploy.spi.blob.BlobStore;
import dev.durabledeploy.spi.engine.WorkflowEngine;
import dev.durabledeploy.spi.exception.DeployBytesMissingException;
import dev.durabledeploy.spi.exception.DeployStateException;
import dev.durabledeploy.spi.exception.SiteStateException;
import dev.durabledeploy.spi.metadata.Alias;
import dev.durabledeploy.spi.metadata.AliasExpectation;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.spi.metadata.Site;
import dev.durabledeploy.spi.metadata.SiteDeletion;
import dev.durabledeploy.spi.metadata.SiteProfile;
import dev.durabledeploy.spi.metadata.SiteState;
import dev.durabledeploy.spi.metadata.Tombstone;
import dev.durabledeploy.testkit.GatedInputStream;
import dev.durabledeploy.testkit.MutableClock;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
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
 * The whole deploy plane on one combination of adapters: a subclass supplies a store, a blob store
 * and a workflow engine, and this contract wires them into a {@link DurableDeploy} with the core's
 * real sagas, relay and projection, and checks what a host observes. The TCK of each interface
 * ({@code dev.durabledeploy.testkit.tck}) proves an adapter alone; this proves that it works with
 * the others: that the events it stores reach the engine, that the engine's runs project the alias
 * into the blob store, that GC and the reconciler agree with the metadata, and that an upload
 * racing finalize cannot change verified bytes. Every combination must give exactly the results
 * below.
 *
 * <pre>{@code
 * class MyStorePlaneTest extends DeployPlaneContract {
 *   protected Store createStore(MutableClock clock) { return MyStore.create(clock); }
 *   protected BlobStore createBlobStore(MutableClock clock, Path root) {
 *     return new FileSystemBlobStore(root);
 *   }
 *   protected WorkflowEngine createEngine(MutableClock clock) {
 *     return ExecutorEngine.builder().clock(clock).build();
 *   }
 * }
 * }</pre>
 *
 * <p>Each test builds fresh adapters (the hooks are called once per test) and closes the store and
 * the blob store when it ends; the plane starts and stops the engine. The clock is a {@link
 * MutableClock} the contract advances by days: adapters that keep time (leases, retention, engine
 * delays) must read it, as every shipped adapter does through its builder's {@code clock(...)}.
 */
public abstract class DeployPlaneContract {

  /** The site every scenario deploys to. */
  protected static final SiteId SITE = SiteId.of("plane-site");

  /** How long the contract waits for the relay and the engine to catch up. */
  protected static final Duration CATCH_UP = Duration.ofSeconds(30);

  @TempDir Path dir;

  private MutableClock clock;
  private Store store;
  private BlobStore blobs;
  private ExecutorService pool;

  /**
   * The store under test, on {@code clock}; a fresh one per test (a fresh namespace, schema or
   * database). The contract closes it.
   */
  protected abstract Store createStore(MutableClock clock);

  /**
   * The blob store under test, empty; {@code root} is an empty directory a file-based store may
   * use. The contract closes it.
   */
  protected abstract BlobStore createBlobStore(MutableClock clock, Path root);

  /** The engine under test, not yet started; the plane starts it and stops it when it closes. */
  protected abstract WorkflowEngine createEngine(MutableClock clock);

  @BeforeEach
  final void createAdapters() {
    clock = new MutableClock();
    store = createStore(clock);
    blobs = createBlobStore(clock, dir.resolve("blobs"));
    pool = Executors.newCachedThreadPool();
  }

  @AfterEach
  final void closeAdapters() throws Exception {
    pool.shutdownNow();
    try {
      if (blobs != null) {
        blobs.close();
      }
    } finally {
      if (store != null) {
        store.close();
      }
    }
  }

  /**
   * The plane's options: a short GC debounce, so that the debounced gc-site a site change submits
   * has run (or is due) before the plane stops; an engine may let a pending run finish within its
   * stop deadline.
   */
  private static DeployOptions.Builder options() {
    return DeployOptions.builder().gcDebounce(Duration.ofMillis(100), Duration.ofSeconds(1));
  }

  private DurableDeploy startPlane(DeployOptions options) {
    return DurableDeploy.builder()
        .store(store)
        .blobStore(blobs)
        .engine(createEngine(clock))
        .clock(clock)
        .options(options)
        .build()
        .start();
  }

  @Test
  @DisplayName(
      "lifecycle, rollback, promote with CAS, delete and restore, GC, reconcile: the alias is"
          + " projected and every outbox event is delivered")
  void wholeLifecycle() {
    try (DurableDeploy plane = startPlane(options().keepLatest(1).build())) {
      List<Deploy> deploys = releaseFourToProduction(plane);
      DeployService service = plane.deploys();
      service.rollback(SITE, AliasName.PRODUCTION);
      service.promote(SITE, deploys.get(3).id(), AliasName.PRODUCTION, AliasExpectation.version(5));
      service.delete(SITE, deploys.get(0).id());
      service.restore(SITE, deploys.get(0).id());

      // Past grace and retention: only the newest deploy, the production target, stays live.
      clock.advance(Duration.ofDays(10));
      GcReport gc = plane.gc().run(SITE, false);
      // The debounced gc-site the engine runs after each site change may trash some of them first;
      // together they trash exactly the three older deploys.
      assertThat(indexes(deploys, gc.trashed())).isSubsetOf(0, 1, 2);
      await()
          .atMost(CATCH_UP)
          .untilAsserted(
              () ->
                  assertThat(
                          indexes(
                              deploys,
                              service.trash(SITE).stream().map(Tombstone::deployId).toList()))
                      .containsExactlyInAnyOrder(0, 1, 2));

      // The engine ran alias-project for the last move: the projection in the blob store carries
      // the alias's version and target (the reconciler compares it with the row).
      await().atMost(CATCH_UP).until(() -> projected("version").equals("6"));
      DriftReport drift = plane.reconciler().reconcile(SITE, false);
      assertThat(drift.counts()).as("drift after GC").isEmpty();
      assertThat(indexes(deploys, service.deploys(SITE).stream().map(Deploy::id).toList()))
          .as("live deploys")
          .containsExactly(3);
      assertThat(
              service.aliases(SITE).stream()
                  .map(
                      a ->
                          a.name()
                              + "@"
                              + a.version()
                              + "->"
                              + indexes(deploys, List.of(a.target())).get(0))
                  .toList())
          .containsExactly("production@6->3");

      assertThat(projected("deployId")).isEqualTo(deploys.get(3).id().value());
      await()
          .atMost(CATCH_UP)
          .untilAsserted(
              () ->
                  assertThat(store.outbox().stats().undelivered())
                      .as("undelivered outbox events")
                      .isZero());
      assertThat(plane.engine().deadLetters(10)).as("dead-lettered runs").isEmpty();
    }
  }

  @Test
  @DisplayName("an upload that overlaps finalize fails and leaves the verified bytes as they were")
  void uploadsRacingFinalize() throws Exception {
    try (DurableDeploy plane = startPlane(options().build())) {
      DeployService deploys = plane.deploys();
      Deploy d = deploys.init(SITE, null);
      upload(deploys, d, "index.html", "v1");
      upload(deploys, d, "app.js", "let v = 1");

      // A re-upload of index.html and an upload of a new file, each blocked inside its write.
      GatedInputStream replacement = new GatedInputStream(bytes("v2"));
      Future<?> replace =
          pool.submit(
              () -> deploys.upload(SITE, d.id(), UploadPath.of("index.html"), replacement, 2));
      replacement.awaitReading(CATCH_UP);
      GatedInputStream late = new GatedInputStream(bytes("late"));
      Future<?> create =
          pool.submit(() -> deploys.upload(SITE, d.id(), UploadPath.of("late.js"), late, 4));
      late.awaitReading(CATCH_UP);

      Manifest manifest =
          Manifest.ofEntries(
              Manifest.Entry.of("index.html", 2, sha256("v1")),
              Manifest.Entry.of("app.js", 9, sha256("let v = 1")));
      Finalized finalized =
          pool.submit(() -> deploys.finalizeDeploy(SITE, d.id(), AliasName.PRODUCTION, manifest))
              .get(60, TimeUnit.SECONDS);
      assertThat(finalized.deploy().isActive()).isTrue();
      replacement.open();
      late.open();

      for (Future<?> racing : List.of(replace, create)) {
        assertThatThrownBy(() -> racing.get(60, TimeUnit.SECONDS))
            .hasCauseInstanceOf(DeployStateException.class);
      }
      assertThat(read(d, "index.html")).isEqualTo("v1");
      assertThat(blobs.stat(BlobLayout.deploy(SITE, d.id()).resolve("late.js"))).isEmpty();
      assertThat(plane.reconciler().reconcile(SITE, false).isClean()).isTrue();
    }
  }

  @Test
  @DisplayName(
      "the reconciler sees the whole bucket: a site the index lost is adopted, a wrong alias"
          + " projection is projected again, abandoned bytes go to trash restorably")
  void reconcilerSeesTheWholeBucket() {
    try (DurableDeploy plane = startPlane(options().build())) {
      DeployService service = plane.deploys();
      List<Deploy> released = releaseFourToProduction(plane);
      Deploy live = released.get(3);
      await().atMost(CATCH_UP).until(() -> projected("version").equals("4"));
      await()
          .atMost(CATCH_UP)
          .untilAsserted(() -> assertThat(store.outbox().stats().undelivered()).isZero());

      // Another target at the row's version: no event on its way can explain it.
      put(
          BlobLayout.alias(SITE, AliasName.PRODUCTION).value(),
          "{\"deployId\":\"" + released.get(0).id() + "\",\"version\":4}");
      assertThat(plane.reconciler().reconcile(SITE, false).counts())
          .containsExactly(java.util.Map.entry(DriftKind.ALIAS_PROJECTION_STALE, 1));
      plane.reconciler().reconcile(SITE, true);
      assertThat(projected("deployId")).isEqualTo(live.id().value());
      assertThat(plane.reconciler().reconcile(SITE, false).isClean()).isTrue();

      // An upload abandoned without a row: past grace it goes to trash under a tombstone, and
      // comes back with a restore.
      DeployId abandoned = DeployId.forSha(clock.instant(), "0abc123");
      put(BlobLayout.deploy(SITE, abandoned).resolve("index.html").value(), "orphan");
      clock.advance(plane.options().grace());
      assertThat(plane.reconciler().reconcile(SITE, true).repaired())
          .extracting(Drift::kind)
          .containsExactly(DriftKind.BYTES_WITHOUT_ROW);
      assertThat(blobs.listAll(BlobLayout.deploy(SITE, abandoned))).isEmpty();
      assertThat(service.trash(SITE)).extracting(Tombstone::deployId).contains(abandoned);
      assertThat(service.restore(SITE, abandoned).isPending()).isTrue();
      assertThat(read(abandoned, "index.html")).isEqualTo("orphan");

      // A site whose rows are lost while its bytes stay: drift-detect finds it, apply adopts it.
      SiteId lost = SiteId.of("plane-lost-index");
      Deploy onLost = service.init(lost, "1234567abc");
      byte[] b = bytes("lost");
      service.upload(
          lost, onLost.id(), UploadPath.of("index.html"), new ByteArrayInputStream(b), 4);
      service.finalizeDeploy(lost, onLost.id(), AliasName.PREVIEW, Manifest.of("index.html"));
      // Every row of it lost, its registry record too (a restored backup of another database).
      store
          .metadata()
          .inSite(
              "test.lose-index",
              lost,
              dev.durabledeploy.spi.metadata.RowSelection.WHOLE_SITE,
              s -> {
                s.removeAll();
                return null;
              });
      assertThat(plane.reconciler().detectAll())
          .filteredOn(r -> r.site().equals(lost))
          .singleElement()
          .satisfies(r -> assertThat(r.counts()).containsEntry(DriftKind.SITE_NOT_INDEXED, 1));
      DriftReport adopted = plane.reconciler().reconcile(lost, true);
      assertThat(adopted.repaired())
          .extracting(Drift::kind)
          .contains(DriftKind.SITE_NOT_INDEXED, DriftKind.MARKED_PREFIX_UNKNOWN);
      assertThat(service.deploy(lost, onLost.id()).orElseThrow().isActive()).isTrue();
    }
  }

  @Test
  @DisplayName(
      "backfill of a bucket another plane wrote restores its aliases, and the GC the adoption"
          + " triggers keeps the deploy they serve")
  void backfillRestoresAliases() {
    // A bucket as another plane left it: three finalized deploys a month old, production
    // projected at version 4 onto the oldest (a rollback), and no index at all.
    List<DeployId> ids = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      DeployId id =
          DeployId.forSha(
              clock.instant().minus(Duration.ofDays(30)).plusSeconds(i),
              String.format("%07x", i + 1));
      byte[] page = bytes("<h1>v" + i + "</h1>");
      blobs.put(
          BlobLayout.deploy(SITE, id).resolve("index.html"),
          new ByteArrayInputStream(page),
          page.length,
          BlobMetadata.ofType("text/html"));
      byte[] marker =
          Marker.of(
                  SITE,
                  id,
                  null,
                  clock.instant().minus(Duration.ofDays(30)),
                  1,
                  Map.of("index.html", new Marker.VerifiedFile(page.length, null, null)))
              .toJson();
      blobs.put(
          BlobLayout.marker(SITE, id),
          new ByteArrayInputStream(marker),
          marker.length,
          BlobMetadata.binary());
      ids.add(id);
    }
    byte[] projection = bytes("{\"deployId\":\"" + ids.get(0) + "\",\"version\":4}");
    blobs.put(
        BlobLayout.alias(SITE, AliasName.PRODUCTION),
        new ByteArrayInputStream(projection),
        projection.length,
        BlobMetadata.ofType("application/json"));

    try (DurableDeploy plane = startPlane(options().keepLatest(1).build())) {
      Backfill.Report report = plane.backfill().site(SITE);
      assertThat(report.adopted()).isEqualTo(3);
      assertThat(report.aliasesRestored()).isEqualTo(1);
      assertThat(report.unrestoredAliases()).isEmpty();
      DeployService service = plane.deploys();
      assertThat(service.aliases(SITE))
          .extracting(a -> a.name() + "@" + a.version() + "->" + a.target())
          .containsExactly("production@4->" + ids.get(0));

      plane.gc().run(SITE, false);
      // The debounced gc-site the adoption triggered may have trashed it first: either way only
      // the middle deploy goes; the served one and the newest stay.
      await()
          .atMost(CATCH_UP)
          .untilAsserted(
              () ->
                  assertThat(service.trash(SITE))
                      .extracting(Tombstone::deployId)
                      .containsExactly(ids.get(1)));
      assertThat(service.deploys(SITE))
          .extracting(Deploy::id)
          .containsExactly(ids.get(0), ids.get(2));
      assertThat(plane.backfill().site(SITE).aliasesRestored()).as("a second backfill").isZero();

      // The alias carries on from the projection's version, and the projection follows it.
      service.promote(SITE, ids.get(2), AliasName.PRODUCTION, AliasExpectation.version(4));
      await().atMost(CATCH_UP).until(() -> projected("version").equals("5"));
      assertThat(projected("deployId")).isEqualTo(ids.get(2).value());
    }
  }

  @Test
  @DisplayName(
      "promote and rollback to a deploy whose files or marker are gone are refused, naming what"
          + " is missing, and the alias stays")
  void aliasMovesRefuseMissingBytes() {
    try (DurableDeploy plane = startPlane(options().build())) {
      DeployService service = plane.deploys();
      List<Deploy> released = new ArrayList<>();
      for (int i = 0; i < 2; i++) {
        Deploy d = service.init(SITE, null);
        upload(service, d, "index.html", "v" + i);
        upload(service, d, "app.js", "let v = " + i);
        service.finalizeDeploy(SITE, d.id(), AliasName.PRODUCTION, Manifest.of("index.html"));
        released.add(d);
        clock.advance(Duration.ofSeconds(1));
      }
      Deploy first = released.get(0);
      blobs.delete(BlobLayout.deploy(SITE, first.id()).resolve("app.js"));
      assertThatThrownBy(() -> service.rollback(SITE, AliasName.PRODUCTION))
          .isInstanceOfSatisfying(
              DeployBytesMissingException.class,
              e -> assertThat(e.missing()).containsExactly("app.js"));

      blobs.delete(BlobLayout.marker(SITE, first.id()));
      assertThatThrownBy(
              () ->
                  service.promote(
                      SITE, first.id(), AliasName.PRODUCTION, AliasExpectation.version(2)))
          .isInstanceOfSatisfying(
              DeployBytesMissingException.class,
              e -> assertThat(e.missing()).containsExactly(BlobLayout.MARKER_NAME));

      assertThat(service.aliases(SITE))
          .extracting(a -> a.version() + "->" + a.target())
          .containsExactly("2->" + released.get(1).id());
    }
  }

  @Test
  @DisplayName(
      "a registered site is trashed, refuses deploys, is restored whole, and after its window is"
          + " purged for good; every event is delivered")
  void siteLifecycle() {
    try (DurableDeploy plane = startPlane(options().keepLatest(5).build())) {
      SiteProfile profile = new SiteProfile("Plane site", "team:plane", Map.of("tier", "gold"));
      Site registered = plane.sites().register(SITE, profile);
      assertThat(registered.version()).isEqualTo(1);
      List<Deploy> deploys = releaseFourToProduction(plane);
      await().atMost(CATCH_UP).until(() -> projected("version").equals("4"));
      List<String> live = keys(BlobLayout.site(SITE));
      List<Alias> aliases = plane.deploys().aliases(SITE);

      SiteDeletion trashed = plane.deploys().purgeSite(SITE);
      assertThat(trashed.deploys()).isEqualTo(4);
      assertThat(trashed.restorableUntil())
          .isEqualTo(plane.sites().find(SITE).orElseThrow().purgeAfter());
      assertThat(plane.sites().find(SITE).orElseThrow().state()).isEqualTo(SiteState.TRASHED);
      assertThat(keys(BlobLayout.site(SITE))).as("live bytes of a trashed site").isEmpty();
      assertThat(projected("version")).as("the projection is no longer served").isEmpty();
      assertThatThrownBy(() -> plane.deploys().init(SITE, null))
          .isInstanceOf(SiteStateException.class);
      assertThatThrownBy(
              () ->
                  plane
                      .deploys()
                      .promote(
                          SITE, deploys.get(0).id(), AliasName.PRODUCTION, AliasExpectation.ANY))
          .isInstanceOf(SiteStateException.class);

      clock.advance(Duration.ofDays(1));
      Site restored = plane.deploys().restoreSite(SITE);
      assertThat(restored.state()).isEqualTo(SiteState.ACTIVE);
      assertThat(restored.profile()).isEqualTo(profile);
      assertThat(plane.deploys().aliases(SITE)).isEqualTo(aliases);
      // The deploys' bytes come back at once; the projection, derived from the rows, once
      // alias-project ran for the alias.changed the restore appended.
      await().atMost(CATCH_UP).until(() -> projected("version").equals("4"));
      assertThat(keys(BlobLayout.site(SITE))).containsExactlyElementsOf(live);
      assertThat(plane.reconciler().reconcile(SITE, false).isClean()).isTrue();

      plane.deploys().purgeSite(SITE);
      clock.advance(DeployOptions.DEFAULT_RECOVERY_WINDOW);
      assertThat(plane.tombstonePurge().run().sitesPurged()).isEqualTo(1);
      assertThat(plane.sites().find(SITE)).isEmpty();
      assertThat(keys(BlobPrefix.ROOT)).isEmpty();
      assertThat(plane.deploys().deploys(SITE)).isEmpty();
      await()
          .atMost(CATCH_UP)
          .untilAsserted(
              () ->
                  assertThat(store.outbox().stats().undelivered())
                      .as("undelivered outbox events")
                      .isZero());
      assertThat(plane.engine().deadLetters(10)).as("dead-lettered runs").isEmpty();
    }
  }

  @Test
  @DisplayName("start() registers the sites a bucket already has (import on boot)")
  void importOnBoot() {
    SiteId adopted = SiteId.of("bucket-only");
    byte[] html = bytes("<h1>old</h1>");
    blobs.put(
        BlobLayout.deploy(adopted, DeployId.forSha(clock.instant(), "abc1234"))
            .resolve("index.html"),
        new ByteArrayInputStream(html),
        html.length,
        BlobMetadata.ofType("text/html"));
    try (DurableDeploy plane = startPlane(options().build())) {
      await().atMost(CATCH_UP).until(() -> plane.sites().find(adopted).isPresent());
      assertThat(plane.sites().find(adopted).orElseThrow().profile().owner())
          .isEqualTo("system:import");
    }
  }

  private List<String> keys(BlobPrefix prefix) {
    return blobs.listAll(prefix).stream().map(i -> i.key().value()).sorted().toList();
  }

  /** Four deploys of index.html and app.js, finalized to production a minute apart. */
  private List<Deploy> releaseFourToProduction(DurableDeploy plane) {
    List<Deploy> deploys = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      Deploy d = plane.deploys().init(SITE, String.format("%07x", i + 1) + "abc");
      for (String file : List.of("index.html", "app.js")) {
        upload(plane.deploys(), d, file, file + " v" + i);
      }
      plane
          .deploys()
          .finalizeDeploy(SITE, d.id(), AliasName.PRODUCTION, Manifest.of("index.html", "app.js"));
      deploys.add(d);
      clock.advance(Duration.ofMinutes(1));
    }
    return deploys;
  }

  private static List<Integer> indexes(List<Deploy> deploys, List<DeployId> ids) {
    List<Integer> indexes = new ArrayList<>();
    for (DeployId id : ids) {
      int index = -1;
      for (int i = 0; i < deploys.size(); i++) {
        if (deploys.get(i).id().equals(id)) {
          index = i;
        }
      }
      assertThat(index).as("%s is one of the scenario's deploys", id).isNotNegative();
      indexes.add(index);
    }
    return indexes;
  }

  /**
   * A field ({@code deployId}, {@code version}) of the production alias projection, as JSON text
   * without quotes, or {@code ""} before the first projection.
   */
  private String projected(String field) {
    return blobs
        .get(BlobLayout.alias(SITE, AliasName.PRODUCTION))
        .map(
            c -> {
              try (BlobContent content = c) {
                String json = new String(content.readAllBytes(), StandardCharsets.UTF_8);
                return json.replaceAll(".*\"" + field + "\":\"?([^\",}]*)\"?.*", "$1");
              }
            })
        .orElse("");
  }

  private String read(Deploy d, String path) {
    return read(d.id(), path);
  }

  private String read(DeployId id, String path) {
    try (BlobContent c = blobs.get(BlobLayout.deploy(SITE, id).resolve(path)).orElseThrow()) {
      return new String(c.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  private void put(String key, String text) {
    byte[] b = bytes(text);
    blobs.put(BlobKey.of(key), new ByteArrayInputStream(b), b.length, BlobMetadata.binary());
  }

  private static void upload(DeployService deploys, Deploy d, String path, String text) {
    byte[] b = bytes(text);
    deploys.upload(SITE, d.id(), UploadPath.of(path), new ByteArrayInputStream(b), b.length);
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private static String sha256(String s) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes(s)));
  }
}
