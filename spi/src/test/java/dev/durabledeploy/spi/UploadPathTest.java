package dev.durabledeploy.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

@DisplayName("upload paths are one spelling per file")
class UploadPathTest {

  private static final String NFC = "caf\u00e9/men\u00fc.html";
  private static final String NFD = "cafe\u0301/menu\u0308.html";

  @Test
  @DisplayName("a path is normalised to NFC, so two spellings of one name are one path")
  void nfc() {
    assertThat(NFC).isNotEqualTo(NFD);
    assertThat(UploadPath.of(NFD).value()).isEqualTo(NFC);
    assertThat(UploadPath.of(NFD)).isEqualTo(UploadPath.of(NFC));
    Set<UploadPath> manifest = new TreeSet<>(Set.of(UploadPath.of(NFC)));
    assertThat(manifest.add(UploadPath.of(NFD))).isFalse();
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "a\u200bb.html", // zero-width space
        "a\u200cb.html", // zero-width non-joiner
        "a\u200db.html", // zero-width joiner
        "a\u2060b.html", // word joiner
        "\ufeffindex.html", // byte order mark
        "evil\u202egnp.js", // right-to-left override
        "a\u202ab.html", // left-to-right embedding
        "a\u200eb.html", // left-to-right mark
        "a\u200fb.html", // right-to-left mark
        "a\u2066b.html", // left-to-right isolate
        "a\u2067b.html", // right-to-left isolate
        "a\u2068b.html", // first strong isolate
        "a\u2069b.html", // pop directional isolate
        "a\u061cb.html", // arabic letter mark
        "a\u00adb.html", // soft hyphen
        "dir\u200b/index.html"
      })
  @DisplayName("invisible and bidirectional control characters are refused, naming the code point")
  void invisibles(String value) {
    assertThatThrownBy(() -> UploadPath.of(value))
        .isInstanceOfSatisfying(
            InvalidInputException.class,
            e -> {
              assertThat(e.field()).isEqualTo("path");
              assertThat(e.reason()).containsPattern("U\\+[0-9A-F]{4}");
            });
  }

  @ParameterizedTest
  @ValueSource(strings = {".durable-deploy.json", ".Durable-Deploy.JSON", ".DURABLE-DEPLOY.JSON"})
  @DisplayName("the marker's name is reserved at the deploy root in any letter case")
  void markerReserved(String value) {
    assertThatThrownBy(() -> UploadPath.of(value))
        .isInstanceOfSatisfying(
            InvalidInputException.class, e -> assertThat(e.field()).isEqualTo("path"));
  }

  @Test
  @DisplayName("the marker's name is an ordinary name below the root")
  void markerNameBelowRoot() {
    assertThat(UploadPath.of("docs/.durable-deploy.json").value())
        .isEqualTo("docs/.durable-deploy.json");
  }

  @Test
  @DisplayName("ordinary unicode names, emoji and CJK included, are accepted unchanged")
  void ordinaryUnicode() {
    for (String ok : new String[] {"日本語/索引.html", "emoji-\ud83d\ude80.png", "ümlaut.css", NFC}) {
      assertThat(UploadPath.of(ok).value()).isEqualTo(ok);
    }
  }
}
