package dev.durabledeploy.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.durabledeploy.spi.exception.InvalidInputException;
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
  @ValueSource(
      strings = {
        ".durable-deploy.json",
        ".Durable-Deploy.JSON",
        ".DURABLE-DEPLOY.JSON",
        ".durable-deploy.j\u017fon", // LATIN SMALL LETTER LONG S: equalsIgnoreCase says "s"
        ".DURABLE-DEPLOY.J\u017fON"
      })
  @DisplayName(
      "the marker's name is reserved at the deploy root in every case-insensitive spelling")
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

  @ParameterizedTest
  @ValueSource(
      strings = {
        "index.html\u3164", // HANGUL FILLER
        "index\u115f.html", // HANGUL CHOSEONG FILLER
        "index\u1160.html", // HANGUL JUNGSEONG FILLER
        "index\uffa0.html", // HALFWIDTH HANGUL FILLER
        "index\u2800.html", // BRAILLE PATTERN BLANK
        "index\u034f.html", // COMBINING GRAPHEME JOINER
        "index\ufe0f.html", // VARIATION SELECTOR-16
        "index\ufe00.html", // VARIATION SELECTOR-1
        "index\udb40\udd00.html", // VARIATION SELECTOR-17 (U+E0100)
        "index\u180b.html", // MONGOLIAN FREE VARIATION SELECTOR ONE
        "index\u17b4.html", // KHMER VOWEL INHERENT AQ
        "index.html\u00a0", // trailing NO-BREAK SPACE
        "index.html ", // trailing space
        " index.html", // leading space
        "assets /app.js", // a directory segment ending in a space
        "index.html\u3000", // trailing IDEOGRAPHIC SPACE
        "index.html\u2007", // trailing FIGURE SPACE
        "my\u00a0file.html", // a no-break space inside looks like "my file.html"
        "my\u202ffile.html" // NARROW NO-BREAK SPACE
      })
  @DisplayName(
      "a name that renders exactly as another (invisible letters, selectors, odd spaces) is refused")
  void invisibleLookalikes(String value) {
    assertThatThrownBy(() -> UploadPath.of(value))
        .isInstanceOfSatisfying(
            InvalidInputException.class,
            e -> {
              assertThat(e.field()).isEqualTo("path");
              assertThat(e.reason()).containsPattern("U\\+[0-9A-F]{4}");
            });
  }

  @Test
  @DisplayName("a plain space inside a name is an ordinary character")
  void innerSpaceAccepted() {
    assertThat(UploadPath.of("my file.html").value()).isEqualTo("my file.html");
    assertThat(UploadPath.of("a b/c d.css").value()).isEqualTo("a b/c d.css");
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
        "a\udb40\udc20b", // TAG SPACE
        "a\u180eb", // MONGOLIAN VOWEL SEPARATOR
        "\ufeffindex.html"
      })
  @DisplayName("traversal, controls and tag characters are refused")
  void refused(String value) {
    assertThatThrownBy(() -> UploadPath.of(value)).isInstanceOf(InvalidInputException.class);
  }

  @Test
  @DisplayName("a path of 1,024 UTF-8 bytes after NFC is accepted, one byte more refused")
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
