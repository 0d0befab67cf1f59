package dev.durabledeploy.core.reconcile;

import static org.assertj.core.api.Assertions.assertThat;

import dev.durabledeploy.core.CoreFixture;
import dev.durabledeploy.core.DeployOptions;
import dev.durabledeploy.core.deploy.BlobLayout;
import dev.durabledeploy.core.deploy.Marker;
import dev.durabledeploy.core.gc.GcPlan;
import dev.durabledeploy.core.gc.GcReport;
import dev.durabledeploy.core.gc.KeepReason;
import dev.durabledeploy.core.metadata.MetadataCommands;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.blob.BlobKey;
import dev.durabledeploy.spi.blob.BlobMetadata;
import dev.durabledeploy.spi.metadata.Alias;
import dev.durabledeploy.spi.metadata.AliasExpectation;
import dev.durabledeploy.spi.metadata.AuditEntry;
import dev.durabledeploy.spi.metadata.Deploy;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

@DisplayName("Backfill")
class BackfillTest extends CoreFixture {

  private DeployId bucketDeploy(SiteId site, int n, boolean marked) {
    DeployId id = DeployId.forSha(clock.instant().minusSeconds(n), String.format("%07x", n));
    rawBlobs.put(
        BlobLayout.deploy(site, id).resolve("index.html"),
        new ByteArrayInputStream(new byte[1]),
        1,
        BlobMetadata.binary());
    if (marked) {
      byte[] json = Marker.of(site, id, "abcdef0", clock.instant(), 1).toJson();
      rawBlobs.put(
          BlobLayout.marker(site, id),
          new ByteArrayInputStream(json),
          json.length,
          BlobMetadata.binary());
    }
    return id;
  }

  @Test
  @DisplayName("adopts marked prefixes as active rows, leaves unmarked ones and never overwrites")
  void site() {
    Deploy existing = finalizedDeploy(PROD, "v1");
    DeployId a = bucketDeploy(SITE, 1, true);
    DeployId b = bucketDeploy(SITE, 2, false);
    Backfill.Report report = plane.backfill().site(SITE);
    assertThat(report).isEqualTo(new Backfill.Report(1, 1, 1, 1, 0, 0, 0, List.of()));
    Deploy adopted = store.metadata().findDeploy(SITE, a).orElseThrow();
    assertThat(adopted.isActive()).isTrue();
    assertThat(adopted.sha()).isEqualTo("abcdef0");
    assertThat(store.metadata().findDeploy(SITE, b)).isEmpty();
    assertThat(store.metadata().findDeploy(SITE, existing.id())).contains(existing);
    assertThat(store.metadata().listAliases(SITE)).hasSize(1);
    assertThat(plane.backfill().site(SITE).adopted()).isZero();
  }

  @Test
  @DisplayName("backfills every site found in the bucket, skipping trash and foreign prefixes")
  void all() {
    bucketDeploy(SiteId.of("alpha"), 1, true);
    bucketDeploy(SiteId.of("beta"), 2, true);
    bucketDeploy(SiteId.of("beta"), 3, true);
    rawBlobs.put(
        BlobKey.of("_trash/alpha/x/y"),
        new ByteArrayInputStream(new byte[0]),
        0,
        BlobMetadata.binary());
    rawBlobs.put(
        BlobKey.of("Not A Site/x"),
        new ByteArrayInputStream(new byte[0]),
        0,
        BlobMetadata.binary());
    Backfill.Report report = plane.backfill().all();
    assertThat(report.sites()).isEqualTo(2);
    assertThat(report.adopted()).isEqualTo(3);
    assertThat(store.metadata().listSites(null, 10))
        .extracting(SiteId::value)
        .containsExactly("alpha", "beta");
  }

  @Override
  protected DeployOptions options() {
    return DeployOptions.builder().keepLatest(1).build();
  }

  /** Writes {@code json} where the alias projection of {@code name} lives. */
  private void projection(SiteId site, String name, String json) {
    byte[] bytes = json.getBytes(StandardCharsets.UTF_8);
    rawBlobs.put(
        BlobKey.of(site.value() + "/aliases/" + name + ".json"),
        new ByteArrayInputStream(bytes),
        bytes.length,
        BlobMetadata.binary());
  }

  private void projection(SiteId site, String name, DeployId target, long version) {
    projection(site, name, "{\"deployId\":\"" + target + "\",\"version\":" + version + "}");
  }

  private Map<String, String> aliases() {
    return store.metadata().listAliases(SITE).stream()
        .collect(
            Collectors.toMap(a -> a.name().value(), a -> a.target().value() + "@" + a.version()));
  }

  @Nested
  @DisplayName("restores aliases from their projection objects")
  class Aliases {

    @Test
    @DisplayName(
        "the alias a projection names is restored, so the GC the adoption triggers keeps the"
            + " served deploy")
    void restoredBeforeGc() {
      DeployId served = bucketDeploy(SITE, 3, true);
      DeployId middle = bucketDeploy(SITE, 2, true);
      DeployId newest = bucketDeploy(SITE, 1, true);
      projection(SITE, "production", served, 7);
      clock.advance(Duration.ofDays(365));

      Backfill.Report report = plane.backfill().site(SITE);

      assertThat(report.adopted()).isEqualTo(3);
      assertThat(report.aliasesRestored()).isEqualTo(1);
      assertThat(report.unrestoredAliases()).isEmpty();
      assertThat(aliases()).containsExactly(Map.entry("production", served.value() + "@7"));
      GcReport gc = plane.gc().run(SITE, false);
      assertThat(gc.trashed()).containsExactly(middle);
      assertThat(deploys.deploys(SITE))
          .extracting(Deploy::id)
          .containsExactlyInAnyOrder(served, newest);
      assertThat(store.metadata().auditLog(SITE, 20))
          .extracting(AuditEntry::action)
          .contains(MetadataCommands.ACTION_ALIAS_RESTORE);
    }

    @Test
    @DisplayName("GC keeps a deploy a projection points at though no alias row targets it")
    void projectedKept() {
      Deploy old = finalizedDeploy(PROD, "v1");
      Deploy current = finalizedDeploy(PROD, "v2");
      projection(SITE, "preview", old.id(), 1); // a preview row the index lost
      clock.advance(Duration.ofDays(365));

      GcPlan plan = plane.gc().plan(SITE);

      assertThat(plan.trash()).isEmpty();
      assertThat(plan.keeps())
          .contains(new GcPlan.Keep(old.id(), Set.of(KeepReason.PROJECTED)))
          .contains(new GcPlan.Keep(current.id(), Set.of(KeepReason.ALIASED, KeepReason.NEWEST)));
      assertThat(plane.gc().run(SITE, false).trashed()).isEmpty();
    }

    @Test
    @DisplayName(
        "a projection newer than the alias row moves the row forward to its version; an equal or"
            + " older one leaves the row alone")
    void neverBackwards() {
      Deploy v1 = finalizedDeploy(PROD, "v1");
      Deploy v2 = finalizedDeploy(AliasName.PREVIEW, "v2");
      projection(SITE, "production", v2.id(), 3); // newer than production@1
      projection(SITE, "preview", v1.id(), 1); // as old as preview@1, another target

      Backfill.Report report = plane.backfill().site(SITE);

      assertThat(report.aliasesRestored()).isEqualTo(1);
      assertThat(report.aliasesIndexed()).isEqualTo(1);
      assertThat(aliases())
          .containsOnly(
              Map.entry("production", v2.id().value() + "@3"),
              Map.entry("preview", v2.id().value() + "@1"));
      assertThat(deploys.deploy(SITE, v1.id()).orElseThrow().releasedAt())
          .as("the deploy production moved away from is released (V4)")
          .isNotNull();
      // The next move continues above the projection's version, so alias-project writes it.
      Alias next = deploys.promote(SITE, v1.id(), PROD, AliasExpectation.version(3));
      assertThat(next.version()).isEqualTo(4);
    }

    @Test
    @DisplayName(
        "unreadable projections and projections to deploys the bucket lacks are reported, and the"
            + " other aliases are still restored")
    void problemsReported() {
      DeployId marked = bucketDeploy(SITE, 2, true);
      DeployId unmarked = bucketDeploy(SITE, 1, false);
      DeployId nowhere = DeployId.forSha(clock.instant().minusSeconds(9), "0000009");
      projection(SITE, "production", marked, 2);
      projection(SITE, "preview", "not json");
      projection(SITE, "staging", "{\"version\":1}");
      projection(SITE, "qa", "{\"deployId\":\"Not An Id\",\"version\":1}");
      projection(SITE, "zero", "{\"deployId\":\"" + marked + "\",\"version\":0}");
      projection(SITE, "Upper", marked, 1);
      projection(SITE, "canary", unmarked, 1);
      projection(SITE, "gone", nowhere, 1);
      projection(SITE, "retired", "{\"deployId\":null,\"version\":4}");

      Backfill.Report report = plane.backfill().site(SITE);

      assertThat(report.aliasesRestored()).isEqualTo(1);
      assertThat(aliases()).containsExactly(Map.entry("production", marked.value() + "@2"));
      Map<String, String> reasons =
          report.unrestoredAliases().stream()
              .collect(
                  Collectors.toMap(
                      u -> u.projection().replaceAll(".*/aliases/", ""),
                      Backfill.UnrestoredAlias::reason));
      assertThat(reasons.keySet())
          .containsExactlyInAnyOrder(
              "preview.json",
              "staging.json",
              "qa.json",
              "zero.json",
              "Upper.json",
              "canary.json",
              "gone.json");
      assertThat(reasons.get("preview.json")).contains("not JSON");
      assertThat(reasons.get("staging.json")).contains("deployId");
      assertThat(reasons.get("qa.json")).contains("not a deploy id");
      assertThat(reasons.get("zero.json")).contains("version");
      assertThat(reasons.get("Upper.json")).contains("alias");
      assertThat(reasons.get("canary.json")).contains(unmarked.value());
      assertThat(reasons.get("gone.json")).contains(nowhere.value()).contains("bucket");
    }

    @Test
    @DisplayName("a second backfill restores nothing and writes no audit entry or event (V9)")
    void idempotent() {
      DeployId a = bucketDeploy(SITE, 2, true);
      DeployId b = bucketDeploy(SITE, 1, true);
      projection(SITE, "production", a, 5);
      projection(SITE, "preview", b, 2);
      Backfill.Report first = plane.backfill().site(SITE);
      assertThat(first.aliasesRestored()).isEqualTo(2);
      int audited = store.metadata().auditLog(SITE, 100).size();
      long events = store.outbox().stats().undelivered();

      Backfill.Report second = plane.backfill().site(SITE);

      assertThat(second).isEqualTo(new Backfill.Report(1, 0, 2, 0, 0, 0, 2, List.of()));
      assertThat(store.metadata().auditLog(SITE, 100)).hasSize(audited);
      assertThat(store.outbox().stats().undelivered()).isEqualTo(events);
      assertThat(aliases())
          .containsOnly(
              Map.entry("production", a.value() + "@5"), Map.entry("preview", b.value() + "@2"));
    }
  }
}
