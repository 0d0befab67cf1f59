package dev.durabledeploy.core.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import dev.durabledeploy.core.CoreFixture;
import dev.durabledeploy.core.blob.FileSystemBlobStore;
import dev.durabledeploy.core.deploy.Manifest;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.blob.BlobStore;
import dev.durabledeploy.spi.metadata.AliasExpectation;
import dev.durabledeploy.spi.metadata.Deploy;
import java.nio.file.Path;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The promote preflight on the filesystem blob store, with paths a real site has. */
class PreflightPathsHostileTest extends CoreFixture {

  @TempDir Path root;

  @Override
  protected BlobStore blobBackend() {
    return new FileSystemBlobStore(root);
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "a b.html",
        "ünïcode/日本.html",
        "x%20y.html",
        "weird/#hash?.js",
        "C++/notes+.txt",
        "dots/..a/b..",
        "emoji/🚀.svg",
        "caps/README.MD",
        "tilde~/~x"
      })
  @DisplayName("promote of a healthy deploy passes the preflight whatever its file names")
  void healthyDeployPromotes(String path) {
    Deploy d = deploys.init(SITE, null);
    upload(d.id(), "index.html", "<h1>x</h1>");
    upload(d.id(), path, "content");
    deploys.finalizeDeploy(SITE, d.id(), AliasName.PREVIEW, Manifest.of("index.html", path));
    assertThat(deploys.promote(SITE, d.id(), PROD, AliasExpectation.ANY).target())
        .isEqualTo(d.id());
  }
}
