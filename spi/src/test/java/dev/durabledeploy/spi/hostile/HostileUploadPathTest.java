package dev.durabledeploy.spi.hostile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.durabledeploy.spi.InvalidInputException;
import dev.durabledeploy.spi.UploadPath;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** UploadPath's promises taken literally: one spelling per file, the marker reserved in any case. */
@DisplayName("hostile: upload paths that look like others, and the marker's name")
class HostileUploadPathTest {

  // BREAKS: the marker is "reserved in every letter case", but ".durable-deploy.j\u017fon" (LATIN SMALL LETTER LONG S) is accepted although Java's own equalsIgnoreCase (and NTFS's upper-case table) make it the marker's name
  @Test
  @DisplayName("the marker's name is refused in every case-insensitive spelling")
  void markerWithLongS() {
    String longS = ".durable-deploy.j\u017fon";
    assertThat(longS.equalsIgnoreCase(UploadPath.RESERVED_MARKER_NAME)).isTrue();
    assertThatThrownBy(() -> UploadPath.of(longS)).isInstanceOf(InvalidInputException.class);
  }

  // BREAKS: "a deploy can never hold two files whose names look the same", yet invisible filler letters (Hangul fillers U+3164/U+115F/U+1160/U+FFA0, Braille blank U+2800), the combining grapheme joiner, a variation selector and trailing (no-break) spaces are accepted, so "index.html" and "index.html\u3164" are two files
  @ParameterizedTest
  @ValueSource(
      strings = {
        "index.html\u3164",
        "index\u115f.html",
        "index\u1160.html",
        "index\uffa0.html",
        "index\u2800.html",
        "index\u034f.html",
        "index\ufe0f.html",
        "index.html\u00a0",
        "index.html ",
        "index.html\u3000"
      })
  @DisplayName("a name that renders exactly as another (invisible letters, trailing spaces) is refused")
  void invisibleLookalikes(String value) {
    assertThatThrownBy(() -> UploadPath.of(value))
        .isInstanceOfSatisfying(
            InvalidInputException.class, e -> assertThat(e.field()).isEqualTo("path"));
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "a/./b",
        "a//b",
        "../x",
        "a/../b",
        "a\u0000b",
        "a\u0085b",
        "a\u2028b",
        "a\udb40\udc20b",
        "a\u180eb",
        "\ufeffindex.html",
        ".DURABLE-DEPLOY.json"
      })
  @DisplayName("traversal, controls, tag characters and the marker in upper case are refused (held)")
  void refused(String value) {
    assertThatThrownBy(() -> UploadPath.of(value)).isInstanceOf(InvalidInputException.class);
  }

  @Test
  @DisplayName("a path of 1,024 UTF-8 bytes after NFC is accepted, one byte more refused (held)")
  void lengthAfterNormalisation() {
    String seg = "\u00e9".repeat(100); // 200 bytes
    String ok = String.join("/", seg, seg, seg, seg, seg) + "/" + "a".repeat(19); // 1,024 bytes
    assertThat(UploadPath.of(ok).value()).isEqualTo(ok);
    // NFD input of the same name: more bytes before NFC, 1,024 after.
    String nfd = ok.replace("\u00e9", "e\u0301");
    assertThat(UploadPath.of(nfd).value()).isEqualTo(ok);
    assertThatThrownBy(() -> UploadPath.of(ok + "a")).isInstanceOf(InvalidInputException.class);
  }
}
