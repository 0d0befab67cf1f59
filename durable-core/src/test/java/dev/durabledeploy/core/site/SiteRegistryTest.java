package dev.durabledeploy.core.site;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.durabledeploy.core.CoreFixture;
import dev.durabledeploy.core.deploy.BlobLayout;
import dev.durabledeploy.core.metadata.MetadataCommands;
import dev.durabledeploy.spi.Actor;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.blob.BlobMetadata;
import dev.durabledeploy.spi.exception.InvalidInputException;
import dev.durabledeploy.spi.exception.SiteNotFoundException;
import dev.durabledeploy.spi.exception.SiteStateException;
import dev.durabledeploy.spi.metadata.AuditEntry;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.spi.metadata.DeployState;
import dev.durabledeploy.spi.metadata.RowSelection;
import dev.durabledeploy.spi.metadata.Site;
import dev.durabledeploy.spi.metadata.SiteProfile;
import dev.durabledeploy.spi.metadata.SiteState;
import dev.durabledeploy.spi.outbox.OutboxEvent;
import dev.durabledeploy.spi.outbox.StandardEvents;
import java.io.ByteArrayInputStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * Sites as records, through {@code plane.sites()} and the deploy service, on the reference store.
 */
class SiteRegistryTest extends CoreFixture {

  private static final Actor ALICE = Actor.of("user:alice");
  private static final SiteProfile DOCS =
      new SiteProfile("Docs", "team:docs", Map.of("env", "prod"));

  private SiteRegistry sites() {
    return plane.sites().as(ALICE);
  }

  private List<OutboxEvent> siteEvents() {
    List<OutboxEvent> all = new ArrayList<>();
    while (true) {
      List<OutboxEvent> batch = store.outbox().claim("test", 1000, Duration.ofMinutes(5));
      if (batch.isEmpty()) {
        return all.stream()
            .filter(
                e -> e.type().startsWith("site.") && !e.type().equals(StandardEvents.SITE_CHANGED))
            .toList();
      }
      store.outbox().ack("test", batch.stream().map(OutboxEvent::id).toList());
      all.addAll(batch);
    }
  }

  @Test
  @DisplayName("register: an ACTIVE record at version 1, audited with its actor, announced")
  void register() {
    Site site = sites().register(SITE, DOCS);
    assertThat(site.state()).isEqualTo(SiteState.ACTIVE);
    assertThat(site.version()).isEqualTo(1);
    assertThat(site.profile()).isEqualTo(DOCS);
    assertThat(site.createdAt()).isEqualTo(clock.instant());
    assertThat(plane.sites().find(SITE)).contains(site);
    AuditEntry audit = store.metadata().auditLog(SITE, 1).get(0);
    assertThat(audit.action()).isEqualTo(MetadataCommands.ACTION_REGISTER_SITE);
    assertThat(audit.actor()).isEqualTo(ALICE);
    List<OutboxEvent> events = siteEvents();
    assertThat(events).hasSize(1);
    assertThat(events.get(0).type()).isEqualTo(StandardEvents.SITE_REGISTERED);
    assertThat(events.get(0).payload())
        .containsEntry("site", "site-a")
        .containsEntry("state", "active")
        .containsEntry("version", "1");
  }

  @Test
  @DisplayName("register again: the same profile is a no-op, another profile is refused")
  void registerTwice() {
    Site first = sites().register(SITE, DOCS);
    siteEvents();
    assertThat(sites().register(SITE, DOCS)).isEqualTo(first);
    assertThat(siteEvents()).isEmpty();
    assertThatThrownBy(() -> sites().register(SITE, SiteProfile.of("Other", "team:x")))
        .isInstanceOf(SiteStateException.class)
        .hasMessageContaining("registered already")
        .hasMessageContaining("update it instead");
    assertThat(plane.sites().find(SITE)).contains(first);
  }

  @Test
  @DisplayName("update: compare-and-set on the version; stale, unknown and no-op updates")
  void update() {
    sites().register(SITE, DOCS);
    siteEvents();
    SiteProfile renamed = new SiteProfile("Docs 2", "team:docs", Map.of("env", "staging"));
    clock.advance(Duration.ofSeconds(5));
    Site v2 = sites().update(SITE, renamed, 1);
    assertThat(v2.version()).isEqualTo(2);
    assertThat(v2.profile()).isEqualTo(renamed);
    assertThat(v2.updatedAt()).isEqualTo(clock.instant());
    assertThat(v2.createdAt()).isBefore(v2.updatedAt());
    assertThat(siteEvents())
        .singleElement()
        .satisfies(
            e -> {
              assertThat(e.type()).isEqualTo(StandardEvents.SITE_UPDATED);
              assertThat(e.payload()).containsEntry("version", "2");
            });
    assertThatThrownBy(() -> sites().update(SITE, DOCS, 1))
        .isInstanceOf(SiteStateException.class)
        .hasMessageContaining("version 2, not the expected 1");
    assertThat(sites().update(SITE, renamed, 0)).isEqualTo(v2);
    assertThat(sites().update(SITE, DOCS, 0).version()).isEqualTo(3);
    assertThatThrownBy(() -> sites().update(OTHER, DOCS, 0))
        .isInstanceOf(SiteNotFoundException.class)
        .hasMessageContaining("site-b");
    assertThatThrownBy(() -> sites().update(SITE, DOCS, -1))
        .isInstanceOf(InvalidInputException.class)
        .hasMessageContaining("expectedVersion");
  }

  private static final SiteId OTHER = SiteId.of("site-b");

  @Test
  @DisplayName("list pages by id with a cursor, every state included")
  void paging() {
    List<SiteId> ids = new ArrayList<>();
    for (int n = 1; n <= 25; n++) {
      SiteId id = SiteId.of(String.format(Locale.ROOT, "s-%02d", n));
      sites().register(id, DOCS);
      ids.add(id);
    }
    deploys.purgeSite(ids.get(3));
    List<SiteId> seen = new ArrayList<>();
    SiteRegistry.Page page = plane.sites().list(null, 10);
    int pages = 1;
    page.items().forEach(s -> seen.add(s.id()));
    while (page.next() != null) {
      page = plane.sites().list(page.next(), 10);
      page.items().forEach(s -> seen.add(s.id()));
      pages++;
    }
    assertThat(seen).containsExactlyElementsOf(ids);
    assertThat(pages).isEqualTo(3);
    assertThat(plane.sites().find(ids.get(3)).orElseThrow().state()).isEqualTo(SiteState.TRASHED);
    assertThatThrownBy(() -> plane.sites().list(null, 0))
        .isInstanceOf(InvalidInputException.class)
        .hasMessageContaining("limit");
    assertThatThrownBy(() -> plane.sites().list(null, SiteRegistry.MAX_PAGE + 1))
        .isInstanceOf(InvalidInputException.class);
  }

  @Test
  @DisplayName("a profile is validated at the boundary, naming the field")
  void badProfiles() {
    assertThatThrownBy(() -> SiteProfile.of("", "o"))
        .isInstanceOf(InvalidInputException.class)
        .hasMessageContaining("displayName");
    assertThatThrownBy(() -> SiteProfile.of("x".repeat(201), "o"))
        .isInstanceOf(InvalidInputException.class)
        .hasMessageContaining("displayName");
    assertThatThrownBy(() -> SiteProfile.of("ok", "bad\nowner"))
        .isInstanceOf(InvalidInputException.class)
        .hasMessageContaining("owner");
    assertThatThrownBy(() -> new SiteProfile("ok", "o", Map.of("Bad Key", "v")))
        .isInstanceOf(InvalidInputException.class)
        .hasMessageContaining("labels");
    assertThatThrownBy(() -> new SiteProfile("ok", "o", Map.of("k", "v\u0000")))
        .isInstanceOf(InvalidInputException.class)
        .hasMessageContaining("labels.k");
    java.util.Map<String, String> many = new java.util.HashMap<>();
    for (int i = 0; i <= SiteProfile.MAX_LABELS; i++) {
      many.put("k" + i, "v");
    }
    assertThatThrownBy(() -> new SiteProfile("ok", "o", many))
        .isInstanceOf(InvalidInputException.class)
        .hasMessageContaining("at most 32");
    assertThatThrownBy(() -> new SiteProfile("ok", "o", null))
        .isInstanceOf(InvalidInputException.class)
        .hasMessageContaining("labels");
  }

  @Test
  @DisplayName("by default a first deploy registers its site, owned by the deploy's actor")
  void firstDeployRegisters() {
    Deploy d = deploys.as(ALICE).init(SITE, null);
    Site site = plane.sites().find(SITE).orElseThrow();
    assertThat(site.profile()).isEqualTo(SiteProfile.of("site-a", "user:alice"));
    assertThat(site.createdAt()).isEqualTo(d.createdAt());
    assertThat(siteEvents())
        .extracting(OutboxEvent::type)
        .containsExactly(StandardEvents.SITE_REGISTERED);
    deploys.as(ALICE).init(SITE, null);
    assertThat(plane.sites().find(SITE)).contains(site);
  }

  @Test
  @DisplayName("importExisting registers sites the index or the bucket has; a second run none")
  void importExisting() {
    SiteId indexed = SiteId.of("from-index");
    SiteId inBucket = SiteId.of("from-bucket");
    sites().register(SITE, DOCS);
    // A site with rows but no record: written before the registry existed.
    DeployId id = DeployId.forSha(clock.instant(), "abc1234");
    store
        .metadata()
        .inSite(
            "test.legacy",
            indexed,
            RowSelection.of(List.of(id), List.of()),
            s -> {
              s.putDeploy(
                  new Deploy(
                      indexed, id, "abc1234", DeployState.ACTIVE, s.now(), s.now(), null, null));
              return null;
            });
    byte[] html = "<h1>x</h1>".getBytes(java.nio.charset.StandardCharsets.UTF_8);
    rawBlobs.put(
        BlobLayout.deploy(inBucket, id).resolve("index.html"),
        new ByteArrayInputStream(html),
        html.length,
        BlobMetadata.ofType("text/html"));
    SiteRegistry.ImportReport report = plane.sites().importExisting();
    assertThat(report.registered()).containsExactly(inBucket, indexed);
    // SITE is registered but has no content: the walk does not even look at it.
    assertThat(report.alreadyRegistered()).isZero();
    assertThat(plane.sites().find(indexed).orElseThrow().profile())
        .isEqualTo(SiteProfile.of("from-index", "system:import"));
    assertThat(plane.sites().find(inBucket)).isPresent();
    SiteRegistry.ImportReport again = plane.sites().importExisting();
    assertThat(again.registered()).isEmpty();
    assertThat(again.alreadyRegistered()).isEqualTo(2);
  }

  @Test
  @DisplayName("start() imports in the background: a legacy site gets its record")
  void importOnStart() {
    SiteId indexed = SiteId.of("legacy");
    DeployId id = DeployId.forSha(clock.instant(), "abc1234");
    store
        .metadata()
        .inSite(
            "test.legacy",
            indexed,
            RowSelection.of(List.of(id), List.of()),
            s -> {
              s.putDeploy(
                  new Deploy(
                      indexed, id, "abc1234", DeployState.ACTIVE, s.now(), s.now(), null, null));
              return null;
            });
    plane.start();
    Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> plane.sites().find(indexed).isPresent());
  }
}
