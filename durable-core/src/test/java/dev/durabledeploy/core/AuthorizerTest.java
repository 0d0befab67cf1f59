package dev.durabledeploy.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.durabledeploy.core.deploy.BlobLayout;
import dev.durabledeploy.core.deploy.Manifest;
import dev.durabledeploy.core.deploy.Marker;
import dev.durabledeploy.spi.Actions;
import dev.durabledeploy.spi.Actor;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.Authorizer;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.UploadPath;
import dev.durabledeploy.spi.blob.BlobMetadata;
import dev.durabledeploy.spi.blob.BlobPrefix;
import dev.durabledeploy.spi.exception.AccessDeniedException;
import dev.durabledeploy.spi.metadata.Alias;
import dev.durabledeploy.spi.metadata.AliasExpectation;
import dev.durabledeploy.spi.metadata.AuditEntry;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.spi.metadata.SiteProfile;
import dev.durabledeploy.spi.metadata.Tombstone;
import dev.durabledeploy.spi.outbox.StandardEvents;
import io.micrometer.core.instrument.Timer;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Stream;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

@DisplayName("the Authorizer")
class AuthorizerTest extends CoreFixture {

  private static final Actor ALICE = Actor.of("user:alice");
  private static final Actor MALLORY = Actor.of("user:mallory");

  /** One question the plane asked. */
  record Asked(Actor actor, SiteId site, String action) {}

  /** Refuses {@link #MALLORY} everything, allows everyone else, and records every question. */
  private final List<Asked> asked = new CopyOnWriteArrayList<>();

  private final Authorizer policy =
      (actor, site, action) -> {
        asked.add(new Asked(actor, site, action));
        if (actor.equals(MALLORY)) {
          throw new AccessDeniedException(actor, site, action, "mallory is read-only");
        }
      };

  @Override
  protected Authorizer authorizer() {
    return policy;
  }

  @Override
  protected DeployOptions options() {
    return DeployOptions.builder()
        .keepLatest(1)
        .retention(Duration.ofDays(1))
        .grace(Duration.ofHours(1))
        .gcDebounce(Duration.ofMillis(10), Duration.ofMillis(100))
        .build();
  }

  /** The deploys of a site that every mutation below has something to act on. */
  record World(Deploy old, Deploy released, Deploy deleted, Deploy live, Deploy pending) {}

  /** Three finalized deploys and a deleted one, production on the newest, and a pending one. */
  private World world() {
    Deploy old = finalizedDeploy(PROD, "old");
    Deploy released = finalizedDeploy(PROD, "released");
    Deploy deleted = finalizedDeploy(PROD, "deleted");
    Deploy live = finalizedDeploy(PROD, "live");
    deploys.delete(SITE, deleted.id());
    Deploy pending = deploys.init(SITE, null);
    upload(pending.id(), "index.html", "<h1>pending</h1>");
    clock.advance(Duration.ofDays(2));
    asked.clear();
    return new World(old, released, deleted, live, pending);
  }

  /** A mutation through the public API, called as {@code actor}. */
  @FunctionalInterface
  interface Call {
    void run(DurableDeploy plane, Actor actor, World w);
  }

  /** One public mutation: its action and whether it is asked about {@code SITE} or all sites. */
  record Mutation(String name, String action, boolean siteScoped, Call call) {
    @Override
    public String toString() {
      return name;
    }
  }

  static Stream<Mutation> mutations() {
    byte[] js = "x".getBytes(StandardCharsets.UTF_8);
    return Stream.of(
        new Mutation(
            "deploys().init",
            Actions.DEPLOY_INIT,
            true,
            (p, a, w) -> p.deploys().as(a).init(SITE, null)),
        new Mutation(
            "deploys().upload",
            Actions.DEPLOY_UPLOAD,
            true,
            (p, a, w) ->
                p.deploys()
                    .as(a)
                    .upload(
                        SITE,
                        w.pending().id(),
                        UploadPath.of("app.js"),
                        new ByteArrayInputStream(js),
                        js.length)),
        new Mutation(
            "deploys().finalizeDeploy",
            Actions.DEPLOY_FINALIZE,
            true,
            (p, a, w) ->
                p.deploys()
                    .as(a)
                    .finalizeDeploy(SITE, w.pending().id(), PROD, Manifest.of("index.html"))),
        new Mutation(
            "deploys().promote",
            Actions.ALIAS_PROMOTE,
            true,
            (p, a, w) ->
                p.deploys()
                    .as(a)
                    .promote(SITE, w.old().id(), AliasName.PREVIEW, AliasExpectation.ANY)),
        new Mutation(
            "deploys().promoteAlias",
            Actions.ALIAS_PROMOTE,
            true,
            (p, a, w) ->
                p.deploys()
                    .as(a)
                    .promoteAlias(SITE, PROD, AliasName.PREVIEW, AliasExpectation.ANY)),
        new Mutation(
            "deploys().rollback to a deploy",
            Actions.ALIAS_ROLLBACK,
            true,
            (p, a, w) ->
                p.deploys().as(a).rollback(SITE, PROD, w.released().id(), AliasExpectation.ANY)),
        new Mutation(
            "deploys().rollback to the previous",
            Actions.ALIAS_ROLLBACK,
            true,
            (p, a, w) -> p.deploys().as(a).rollback(SITE, PROD)),
        new Mutation(
            "deploys().delete",
            Actions.DEPLOY_DELETE,
            true,
            (p, a, w) -> p.deploys().as(a).delete(SITE, w.old().id())),
        new Mutation(
            "deploys().restore",
            Actions.DEPLOY_RESTORE,
            true,
            (p, a, w) -> p.deploys().as(a).restore(SITE, w.deleted().id())),
        new Mutation(
            "deploys().purgeSite",
            Actions.SITE_DELETE,
            true,
            (p, a, w) -> p.deploys().as(a).purgeSite(SITE)),
        new Mutation(
            "deploys().restoreSite",
            Actions.SITE_RESTORE,
            true,
            (p, a, w) -> p.deploys().as(a).restoreSite(SITE)),
        new Mutation(
            "deploys().purgeSiteNow",
            Actions.SITE_PURGE,
            true,
            (p, a, w) -> p.deploys().as(a).purgeSiteNow(SITE)),
        new Mutation(
            "sites().register",
            Actions.SITE_REGISTER,
            true,
            // The profile the world's first deploy registered: a no-op once allowed.
            (p, a, w) ->
                p.sites().as(a).register(SITE, SiteProfile.of(SITE.value(), Actor.SYSTEM.value()))),
        new Mutation(
            "sites().update",
            Actions.SITE_UPDATE,
            true,
            (p, a, w) -> p.sites().as(a).update(SITE, SiteProfile.of("Renamed", "team:a"), 0)),
        new Mutation(
            "sites().delete", Actions.SITE_DELETE, true, (p, a, w) -> p.sites().as(a).delete(SITE)),
        new Mutation(
            "sites().importExisting",
            Actions.SITE_REGISTER,
            false,
            (p, a, w) -> p.sites().as(a).importExisting()),
        new Mutation("gc().run", Actions.GC_RUN, true, (p, a, w) -> p.gc().as(a).run(SITE, false)),
        new Mutation(
            "reconciler().reconcile with apply",
            Actions.RECONCILE_APPLY,
            true,
            (p, a, w) -> p.reconciler().as(a).reconcile(SITE, true)),
        new Mutation(
            "backfill().site",
            Actions.BACKFILL_RUN,
            true,
            (p, a, w) -> p.backfill().as(a).site(SITE)),
        new Mutation(
            "backfill().all", Actions.BACKFILL_RUN, false, (p, a, w) -> p.backfill().as(a).all()),
        new Mutation(
            "tombstonePurge().run",
            Actions.TOMBSTONE_PURGE,
            false,
            (p, a, w) -> p.tombstonePurge().as(a).run()),
        new Mutation(
            "outboxDeadLetters().retry",
            Actions.OUTBOX_DEAD_LETTER_RETRY,
            false,
            (p, a, w) -> p.outboxDeadLetters().as(a).retry(1)),
        new Mutation(
            "outboxDeadLetters().discard",
            Actions.OUTBOX_DEAD_LETTER_DISCARD,
            false,
            (p, a, w) -> p.outboxDeadLetters().as(a).discard(1)));
  }

  /** Everything a mutation could leave behind: audit entries, rows, bytes, events, operations. */
  record Snapshot(
      java.util.Optional<dev.durabledeploy.spi.metadata.Site> record,
      List<AuditEntry> audit,
      List<Deploy> deploys,
      List<Alias> aliases,
      List<Tombstone> trash,
      List<String> blobs,
      long undelivered,
      long operations) {}

  private Snapshot snapshot() {
    return new Snapshot(
        store.metadata().findSite(SITE),
        store.metadata().auditLog(SITE, 1_000),
        store.metadata().listDeploys(SITE),
        store.metadata().listAliases(SITE),
        store.metadata().listTombstones(SITE),
        rawBlobs.listAll(BlobPrefix.ROOT).stream()
            .map(b -> b.key() + " " + b.size() + " " + b.etag())
            .toList(),
        store.outbox().stats().undelivered(),
        meters.find("durable.operation").timers().stream().mapToLong(Timer::count).sum());
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("mutations")
  @DisplayName("a refused actor gets AccessDeniedException naming the action, and nothing changes")
  void refused(Mutation m) {
    World w = world();
    Snapshot before = snapshot();

    assertThatThrownBy(() -> m.call().run(plane, MALLORY, w))
        .isInstanceOfSatisfying(
            AccessDeniedException.class,
            e -> {
              assertThat(e.action()).isEqualTo(m.action());
              assertThat(e.actor()).isEqualTo(MALLORY);
              assertThat(e.site())
                  .isEqualTo(
                      m.siteScoped() ? java.util.Optional.of(SITE) : java.util.Optional.empty());
            })
        .hasMessageContaining("'user:mallory'")
        .hasMessageContaining(m.action())
        .hasMessageContaining(m.siteScoped() ? "on site 'site-a'" : "across all sites")
        .hasMessageContaining("mallory is read-only");

    assertThat(snapshot()).isEqualTo(before);
    assertThat(asked).containsExactly(new Asked(MALLORY, m.siteScoped() ? SITE : null, m.action()));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("mutations")
  @DisplayName("an allowed actor's mutation runs, and the authorizer was asked once, before it")
  void allowed(Mutation m) {
    World w = world();
    m.call().run(plane, ALICE, w);
    assertThat(asked).containsExactly(new Asked(ALICE, m.siteScoped() ? SITE : null, m.action()));
  }

  @Test
  @DisplayName(
      "reads are not checked: listings, the GC plan, a GC dry run, a report-only reconcile")
  void readsAreNotChecked() {
    world();
    var mallory = plane.deploys().as(MALLORY);
    mallory.deploys(SITE);
    mallory.aliases(SITE);
    mallory.trash(SITE);
    plane.gc().as(MALLORY).plan(SITE);
    plane.gc().as(MALLORY).run(SITE, true);
    plane.reconciler().as(MALLORY).reconcile(SITE, false);
    plane.outboxDeadLetters().as(MALLORY).list(10);
    assertThat(asked).isEmpty();
  }

  @Test
  @DisplayName("calls through no actor-bound view are asked about as the view's default actor")
  void defaultActors() {
    World w = world();
    deploys.delete(SITE, w.old().id());
    plane.gc().run(SITE, false);
    plane.reconciler().reconcile(SITE, true);
    plane.tombstonePurge().run();
    assertThat(asked)
        .extracting(Asked::actor)
        .containsExactly(
            Actor.SYSTEM,
            Actor.of("system:gc"),
            Actor.of("system:reconcile"),
            Actor.of("system:purge"));
  }

  @Nested
  @DisplayName("the audit log records the allowed actor")
  class Audit {

    private Actor newestActor() {
      return store.metadata().auditLog(SITE, 1).get(0).actor();
    }

    @Test
    @DisplayName("of every deploy lifecycle mutation")
    void lifecycle() {
      World w = world();
      var alice = plane.deploys().as(ALICE);
      alice.init(SITE, null);
      assertThat(newestActor()).isEqualTo(ALICE);
      alice.finalizeDeploy(SITE, w.pending().id(), PROD, Manifest.of("index.html"));
      assertThat(newestActor()).isEqualTo(ALICE);
      alice.rollback(SITE, PROD);
      assertThat(newestActor()).isEqualTo(ALICE);
      alice.delete(SITE, w.old().id());
      assertThat(newestActor()).isEqualTo(ALICE);
      alice.restore(SITE, w.deleted().id());
      assertThat(newestActor()).isEqualTo(ALICE);
    }

    @Test
    @DisplayName("of a GC run, on every tombstone it writes")
    void gc() {
      World w = world();
      assertThat(plane.gc().as(ALICE).run(SITE, false).trashed()).contains(w.old().id());
      assertThat(store.metadata().auditLog(SITE, 1_000))
          .filteredOn(e -> e.target().equals(w.old().id().value()))
          .first()
          .extracting(AuditEntry::actor)
          .isEqualTo(ALICE);
    }

    @Test
    @DisplayName("of a tombstone purge")
    void tombstonePurge() {
      World w = world();
      clock.advance(Duration.ofDays(8));
      assertThat(plane.tombstonePurge().as(ALICE).run().purged()).isEqualTo(1);
      assertThat(store.metadata().auditLog(SITE, 1).get(0).target())
          .isEqualTo(w.deleted().id().value());
      assertThat(newestActor()).isEqualTo(ALICE);
    }

    /** Finalized bytes with a marker and no row: what backfill and reconcile adopt. */
    private DeployId orphanPrefix() {
      DeployId id = DeployId.forSha(clock.instant().minusSeconds(60), "abcdef0");
      rawBlobs.put(
          BlobLayout.deploy(SITE, id).resolve("index.html"),
          new ByteArrayInputStream(new byte[1]),
          1,
          BlobMetadata.binary());
      byte[] json = Marker.of(SITE, id, "abcdef0", clock.instant(), 1).toJson();
      rawBlobs.put(
          BlobLayout.marker(SITE, id),
          new ByteArrayInputStream(json),
          json.length,
          BlobMetadata.binary());
      return id;
    }

    @Test
    @DisplayName("of a backfill")
    void backfill() {
      DeployId id = orphanPrefix();
      assertThat(plane.backfill().as(ALICE).site(SITE).adopted()).isEqualTo(1);
      assertThat(store.metadata().auditLog(SITE, 1).get(0).target()).isEqualTo(id.value());
      assertThat(newestActor()).isEqualTo(ALICE);
    }

    @Test
    @DisplayName("of a reconcile repair")
    void reconcile() {
      DeployId id = orphanPrefix();
      assertThat(plane.reconciler().as(ALICE).reconcile(SITE, true).repaired()).isNotEmpty();
      assertThat(store.metadata().auditLog(SITE, 1).get(0).target()).isEqualTo(id.value());
      assertThat(newestActor()).isEqualTo(ALICE);
    }
  }

  @Test
  @DisplayName(
      "background work is the library's own: gc-site runs though every host call is refused")
  void backgroundIsNotChecked() {
    World w = world();
    plane.start();
    engine.submit(
        dev.durabledeploy.spi.engine.Submission.of(
            dev.durabledeploy.core.gc.SiteGc.WORKFLOW,
            java.util.Map.of(StandardEvents.KEY_SITE, SITE.value())));
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> store.metadata().findTombstone(SITE, w.old().id()).isPresent());
    assertThat(asked).noneMatch(a -> a.action().equals(Actions.GC_RUN));
  }

  @Test
  @DisplayName("a plane built without an authorizer allows every actor every mutation")
  void defaultAllowsAll() {
    World w = world();
    try (DurableDeploy open =
        DurableDeploy.builder()
            .store(store)
            .blobStore(blobs)
            .engine(new dev.durabledeploy.store.memory.InMemoryWorkflowEngine())
            .clock(clock)
            .options(options())
            .instanceId("test-host-2")
            .build()) {
      open.deploys().as(MALLORY).delete(SITE, w.old().id());
      open.gc().as(MALLORY).run(SITE, false);
      open.tombstonePurge().as(MALLORY).run();
      assertThat(store.metadata().auditLog(SITE, 1).get(0).actor()).isEqualTo(MALLORY);
    }
    assertThat(asked).isEmpty();
  }

  @Test
  @DisplayName("the builder refuses a null authorizer, naming the property")
  void nullAuthorizer() {
    assertThatThrownBy(
            () ->
                DurableDeploy.builder()
                    .store(store)
                    .blobStore(blobs)
                    .engine(engine)
                    .authorizer(null)
                    .build())
        .isInstanceOf(dev.durabledeploy.spi.exception.ConfigurationException.class)
        .hasMessageContaining("authorizer");
  }
}
