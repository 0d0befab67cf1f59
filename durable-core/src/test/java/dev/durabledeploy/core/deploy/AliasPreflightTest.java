package dev.durabledeploy.core.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.durabledeploy.core.CoreFixture;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.blob.BlobMetadata;
import dev.durabledeploy.spi.exception.DeployBytesMissingException;
import dev.durabledeploy.spi.metadata.Alias;
import dev.durabledeploy.spi.metadata.AliasExpectation;
import dev.durabledeploy.spi.metadata.Deploy;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

@DisplayName("alias moves check the target's bytes first")
class AliasPreflightTest extends CoreFixture {

  private Alias production() {
    return deploys.aliases(SITE).stream()
        .filter(a -> a.name().equals(PROD))
        .findFirst()
        .orElseThrow();
  }

  @Test
  @DisplayName("promote to a deploy whose marker is gone is refused naming the marker")
  void markerGone() {
    Deploy v1 = finalizedDeploy(AliasName.PREVIEW, "v1");
    Deploy v2 = finalizedDeploy(PROD, "v2");
    rawBlobs.delete(BlobLayout.marker(SITE, v1.id()));
    Alias before = production();
    assertThatThrownBy(() -> deploys.promote(SITE, v1.id(), PROD, AliasExpectation.ANY))
        .isInstanceOfSatisfying(
            DeployBytesMissingException.class,
            e -> {
              assertThat(e.deployId()).isEqualTo(v1.id());
              assertThat(e.missing()).containsExactly(BlobLayout.MARKER_NAME);
            })
        .hasMessageContaining("marker");
    assertThat(production()).isEqualTo(before);
    assertThat(production().target()).isEqualTo(v2.id());
  }

  @Test
  @DisplayName("a marker that does not parse is refused as missing")
  void markerUnreadable() {
    Deploy v1 = finalizedDeploy(AliasName.PREVIEW, "v1");
    finalizedDeploy(PROD, "v2");
    byte[] junk = "not json".getBytes(StandardCharsets.UTF_8);
    rawBlobs.put(
        BlobLayout.marker(SITE, v1.id()),
        new ByteArrayInputStream(junk),
        junk.length,
        BlobMetadata.binary());
    assertThatThrownBy(() -> deploys.promote(SITE, v1.id(), PROD, AliasExpectation.ANY))
        .isInstanceOf(DeployBytesMissingException.class)
        .hasMessageContaining("unreadable");
  }

  @Test
  @DisplayName("rollback to a deploy that lost a file is refused naming the file; alias unchanged")
  void rollbackToLostFile() {
    Deploy v1 = finalizedDeploy(PROD, "v1");
    Deploy v2 = finalizedDeploy(PROD, "v2");
    rawBlobs.delete(BlobLayout.deploy(SITE, v1.id()).resolve("app.js"));
    Alias before = production();
    assertThatThrownBy(() -> deploys.rollback(SITE, PROD))
        .isInstanceOfSatisfying(
            DeployBytesMissingException.class,
            e -> {
              assertThat(e.missing()).containsExactly("app.js");
              assertThat(e.missingCount()).isEqualTo(1);
            })
        .hasMessageContaining("app.js");
    assertThatThrownBy(
            () -> deploys.rollback(SITE, PROD, v1.id(), AliasExpectation.current(v2.id())))
        .isInstanceOf(DeployBytesMissingException.class);
    assertThat(production()).isEqualTo(before);
  }

  @Test
  @DisplayName("promoteAlias to a deploy that lost its files is refused")
  void promoteAliasToLostFiles() {
    finalizedDeploy(PROD, "v1");
    Deploy preview = finalizedDeploy(AliasName.PREVIEW, "v2");
    rawBlobs.delete(BlobLayout.deploy(SITE, preview.id()).resolve("index.html"));
    rawBlobs.delete(BlobLayout.deploy(SITE, preview.id()).resolve("app.js"));
    Alias before = production();
    assertThatThrownBy(
            () -> deploys.promoteAlias(SITE, AliasName.PREVIEW, PROD, AliasExpectation.ANY))
        .isInstanceOfSatisfying(
            DeployBytesMissingException.class,
            e -> assertThat(e.missing()).containsExactly("app.js", "index.html"));
    assertThat(production()).isEqualTo(before);
  }

  @Test
  @DisplayName("a marker written before markers recorded files is checked by its file count")
  void oldMarkerByCount() {
    Deploy v1 = finalizedDeploy(AliasName.PREVIEW, "v1");
    finalizedDeploy(PROD, "v2");
    byte[] old = Marker.of(SITE, v1.id(), null, clock.instant(), 2).toJson();
    rawBlobs.put(
        BlobLayout.marker(SITE, v1.id()),
        new ByteArrayInputStream(old),
        old.length,
        BlobMetadata.binary());
    // Both files there: the move goes ahead.
    assertThat(deploys.promote(SITE, v1.id(), PROD, AliasExpectation.ANY).target())
        .isEqualTo(v1.id());
    rawBlobs.delete(BlobLayout.deploy(SITE, v1.id()).resolve("app.js"));
    assertThatThrownBy(
            () -> deploys.promote(SITE, v1.id(), AliasName.of("staging"), AliasExpectation.ANY))
        .isInstanceOf(DeployBytesMissingException.class)
        .hasMessageContaining("1 of its 2 files");
  }
}
