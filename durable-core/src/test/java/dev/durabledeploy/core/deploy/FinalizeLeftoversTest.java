package dev.durabledeploy.core.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.durabledeploy.core.CoreFixture;
import dev.durabledeploy.core.DeployOptions;
import dev.durabledeploy.core.DurableDeploy;
import dev.durabledeploy.core.gc.KeepReason;
import dev.durabledeploy.spi.UploadPath;
import dev.durabledeploy.spi.blob.BlobMetadata;
import dev.durabledeploy.spi.exception.AliasDriftException;
import dev.durabledeploy.spi.exception.InvalidInputException;
import dev.durabledeploy.spi.metadata.AliasExpectation;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.spi.metadata.DeployState;
import dev.durabledeploy.spi.retry.RetryPolicy;
import dev.durabledeploy.store.memory.InMemoryWorkflowEngine;
import dev.durabledeploy.testkit.FaultInjectingBlobStore;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

@DisplayName("what a failed finalize leaves behind, and the files limit across hosts")
class FinalizeLeftoversTest extends CoreFixture {

  static final int LIMIT = 3;
  private final List<DurableDeploy> hosts = new ArrayList<>();

  @Override
  protected DeployOptions options() {
    return DeployOptions.builder().maxFilesPerDeploy(LIMIT).build();
  }

  /** Another host on the same stores, with its own files-per-deploy counter. */
  private DeployService otherHost(String name) {
    DurableDeploy host =
        DurableDeploy.builder()
            .store(store)
            .blobStore(blobs)
            .engine(new InMemoryWorkflowEngine())
            .clock(clock)
            .random(new SplittableRandom(name.hashCode()))
            .sleeper(d -> {})
            .retryPolicy(
                RetryPolicy.defaults().withBackoff(Duration.ofMillis(1), Duration.ofMillis(5), 2.0))
            .options(options())
            .instanceId(name)
            .build();
    hosts.add(host);
    return host.deploys();
  }

  @AfterEach
  void closeHosts() {
    hosts.forEach(DurableDeploy::close);
  }

  private static void upload(DeployService via, Deploy d, String path) {
    byte[] b = path.getBytes(StandardCharsets.UTF_8);
    via.upload(SITE, d.id(), UploadPath.of(path), new ByteArrayInputStream(b), b.length);
  }

  private void refusedByTheAliasCas(Deploy d) {
    assertThatThrownBy(
            () ->
                deploys.finalizeDeploy(
                    SITE,
                    d.id(),
                    PROD,
                    Manifest.of("index.html", "a.js"),
                    AliasExpectation.version(7)))
        .isInstanceOf(AliasDriftException.class);
  }

  @Test
  @DisplayName(
      "a finalize refused by the alias CAS withdraws its marker: GC keeps the pending deploy for"
          + " grace, not retention")
  void driftWithdrawsTheMarker() {
    Deploy d = deploys.init(SITE, null);
    upload(deploys, d, "index.html");
    upload(deploys, d, "a.js");
    refusedByTheAliasCas(d);
    assertThat(deploys.deploy(SITE, d.id()).orElseThrow().state()).isEqualTo(DeployState.PENDING);
    assertThat(rawBlobs.stat(BlobLayout.marker(SITE, d.id()))).isEmpty();
    clock.advance(options().grace().plusHours(1)); // past grace, well within retention
    assertThat(plane.gc().plan(SITE).trash()).containsExactly(d.id());
    assertThat(plane.gc().plan(SITE).keeps())
        .noneSatisfy(k -> assertThat(k.reasons()).contains(KeepReason.RETENTION));
  }

  @Test
  @DisplayName(
      "a refused finalize whose marker cannot be withdrawn stays sealed; the next finalize"
          + " finishes it")
  void markerNotWithdrawnStaysSealed() {
    Deploy d = deploys.init(SITE, null);
    upload(deploys, d, "index.html");
    upload(deploys, d, "a.js");
    // finalize's blob calls: the listing (1), the marker (2), the marker's withdrawal (3).
    blobs
        .failOnCall(3, FaultInjectingBlobStore.When.BEFORE)
        .throwing(() -> new IllegalStateException("bucket unreachable"));
    assertThatThrownBy(
            () ->
                deploys.finalizeDeploy(
                    SITE,
                    d.id(),
                    PROD,
                    Manifest.of("index.html", "a.js"),
                    AliasExpectation.version(7)))
        .isInstanceOfSatisfying(
            AliasDriftException.class,
            e ->
                assertThat(e.getSuppressed())
                    .anySatisfy(s -> assertThat(s).hasMessageContaining("unreachable")));
    blobs.heal();
    assertThat(deploys.deploy(SITE, d.id()).orElseThrow().state())
        .isEqualTo(DeployState.FINALIZING);
    assertThat(
            deploys
                .finalizeDeploy(SITE, d.id(), PROD, Manifest.of("index.html", "a.js"))
                .deploy()
                .state())
        .isEqualTo(DeployState.ACTIVE);
  }

  @Test
  @DisplayName(
      "a marker left in a pending deploy (by a finalize that stopped) is not counted as a file")
  void leftoverMarkerIsNoFile() {
    Deploy d = deploys.init(SITE, null);
    upload(deploys, d, "index.html");
    upload(deploys, d, "a.js");
    // What a finalize on a store without the FINALIZING state leaves when it dies after its marker.
    byte[] marker = "{\"leftover\":true}".getBytes(StandardCharsets.UTF_8);
    rawBlobs.put(
        BlobLayout.marker(SITE, d.id()),
        new ByteArrayInputStream(marker),
        marker.length,
        BlobMetadata.ofType("application/json"));
    DeployService fresh = otherHost("fresh-host"); // seeds its count from the listing
    upload(fresh, d, "b.js");
    assertThatThrownBy(() -> upload(fresh, d, "c.js"))
        .isInstanceOfSatisfying(
            InvalidInputException.class, e -> assertThat(e.field()).isEqualTo("files"));
    assertThat(
            fresh
                .finalizeDeploy(SITE, d.id(), PROD, Manifest.of("index.html", "a.js", "b.js"))
                .deploy()
                .isActive())
        .isTrue();
  }

  @Test
  @DisplayName(
      "finalize counts every file in the deploy against the limit, whichever host uploaded it")
  void filesLimitAcrossHosts() {
    DeployService a = deploys;
    DeployService b = otherHost("host-b");
    Deploy d = a.init(SITE, null);
    upload(a, d, "index.html");
    upload(b, d, "b1.js"); // B has counted the deploy now
    upload(a, d, "a1.js");
    upload(b, d, "b2.js");
    upload(a, d, "a2.js"); // five files: each host saw three at most
    assertThat(rawBlobs.listAll(BlobLayout.deploy(SITE, d.id()))).hasSize(5);
    assertThatThrownBy(() -> a.finalizeDeploy(SITE, d.id(), PROD, Manifest.of("index.html")))
        .isInstanceOfSatisfying(
            InvalidInputException.class,
            e -> {
              assertThat(e.field()).isEqualTo("files");
              assertThat(e.getMessage()).contains("holds 5 files").contains("maximum of 3");
            });
    assertThat(a.deploy(SITE, d.id()).orElseThrow().state()).isEqualTo(DeployState.PENDING);
    assertThat(rawBlobs.stat(BlobLayout.marker(SITE, d.id()))).isEmpty();
    assertThat(a.aliases(SITE)).isEmpty();
  }
}
