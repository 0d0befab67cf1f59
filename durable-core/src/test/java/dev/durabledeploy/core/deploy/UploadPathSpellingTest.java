package dev.durabledeploy.core.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.durabledeploy.core.CoreFixture;
import dev.durabledeploy.spi.exception.InvalidInputException;
import dev.durabledeploy.spi.metadata.Deploy;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

@DisplayName("one deploy never holds two spellings of one file name")
class UploadPathSpellingTest extends CoreFixture {

  private static final String NFC = "caf\u00e9.html";
  private static final String NFD = "cafe\u0301.html";

  @Test
  @DisplayName("NFD and NFC spellings are one key: uploaded as NFD, found by the NFC manifest")
  void oneKeyPerName() {
    Deploy d = deploys.init(SITE, null);
    upload(d.id(), "index.html", "<h1>x</h1>");
    upload(d.id(), NFD, "menu");
    assertThat(rawBlobs.listAll(BlobLayout.deploy(SITE, d.id())))
        .extracting(i -> i.key().value())
        .containsExactlyInAnyOrder(
            BlobLayout.deploy(SITE, d.id()).resolve("index.html").value(),
            BlobLayout.deploy(SITE, d.id()).resolve(NFC).value());
    Manifest both = Manifest.of("index.html", NFC, NFD);
    assertThat(both.size()).isEqualTo(2);
    deploys.finalizeDeploy(SITE, d.id(), PROD, both);
    assertThat(deploys.deploy(SITE, d.id()).orElseThrow().isActive()).isTrue();
  }

  @Test
  @DisplayName("the marker's name in another letter case and invisible characters are refused")
  void refusedSpellings() {
    Deploy d = deploys.init(SITE, null);
    for (String bad : new String[] {".Durable-Deploy.JSON", "index\u200b.html", "a\u202eb.js"}) {
      assertThatThrownBy(() -> upload(d.id(), bad, "x"))
          .isInstanceOfSatisfying(
              InvalidInputException.class, e -> assertThat(e.field()).isEqualTo("path"));
    }
    assertThat(rawBlobs.listAll(BlobLayout.deploy(SITE, d.id()))).isEmpty();
  }
}
