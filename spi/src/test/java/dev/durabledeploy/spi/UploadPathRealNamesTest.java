package dev.durabledeploy.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.durabledeploy.spi.exception.InvalidInputException;
import java.text.Normalizer;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The look-alike refusals must not refuse the names real sites in other scripts have: a host that
 * mirrors a site cannot rename its files without breaking every link to them.
 */
@DisplayName("upload paths: names real sites in other scripts have")
class UploadPathRealNamesTest {

  @ParameterizedTest
  @ValueSource(
      strings = {
        "\ud55c\uad6d\uc5b4/\ud398\uc774\uc9c0.html", // Korean
        "\u65e5\u672c\u8a9e/\u30d5\u30a1\u30a4\u30eb\u540d 2024.pdf", // Japanese, ASCII space
        "\u4e2d\u6587/\u9875\u9762.html", // Chinese
        "\u0627\u0644\u0639\u0631\u0628\u064a\u0629/\u0635\u0641\u062d\u0629.html", // Arabic
        "\u0645\u064e\u0643\u0652\u062a\u064e\u0628.html", // Arabic with harakat
        "\u0627\u0631\u062f\u0648/\u0635\u0641\u062d\u06c1.html", // Urdu
        "\u05e2\u05d1\u05e8\u05d9\u05ea/\u05d3\u05e3.html", // Hebrew
        "\u0939\u093f\u0928\u094d\u0926\u0940/\u092a\u0943\u0937\u094d\u0920.html", // Hindi
        "\u0e20\u0e32\u0e29\u0e32\u0e44\u0e17\u0e22.html", // Thai
        "\ud83c\uddef\ud83c\uddf5.png", // flag: regional indicators
        "\ud83d\udc4d\ud83c\udffd.png", // emoji with a skin tone modifier
      })
  @DisplayName("names in other scripts, flags and skin tones are accepted unchanged")
  void accepted(String name) {
    assertThat(UploadPath.of(name).value())
        .isEqualTo(Normalizer.normalize(name, Normalizer.Form.NFC));
  }

  // Found by a hostile review: issue 22's look-alike refusals refused these (U+FE0F, the zero width
  // joiner and non-joiner); a selector or joiner that shapes its neighbours is now accepted.
  @ParameterizedTest
  @ValueSource(
      strings = {
        "\u2764\ufe0f.png", // red heart: U+2764 U+FE0F
        "1\ufe0f\u20e3.png", // keycap one
        "\ud83c\udff3\ufe0f\u200d\ud83c\udf08.svg", // rainbow flag: FE0F and ZWJ
        "\ud83d\udc68\u200d\ud83d\udc69\u200d\ud83d\udc67.svg", // family: ZWJ sequence
        "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645.html" // Persian "I want", with ZWNJ
      })
  @DisplayName(
      "emoji written with a selector or joiner, and Persian with its non-joiner, are accepted")
  void emojiSequencesAndPersian(String name) {
    assertThat(UploadPath.of(name).value()).isEqualTo(name);
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "index\ufe0f.html", // a selector after a Latin letter shows nothing
        "\ufe0fa.html", // at the start
        "index\u200d.html", // a joiner between Latin letters
        "in\u200cdex.html", // a non-joiner between Latin letters
        "\u2764\u200d.png", // a joiner with no emoji after it
        "\u0627\u200c.html", // a non-joiner with no letter after it
        "\u0627\u200c\u0915.html", // a non-joiner between two scripts
        "1\ufe0f.png" // a keycap selector without the keycap
      })
  @DisplayName("the same selectors and joiners where they shape nothing are still refused")
  void refusedWhereTheyShapeNothing(String name) {
    assertThatThrownBy(() -> UploadPath.of(name))
        .isInstanceOfSatisfying(
            InvalidInputException.class, e -> assertThat(e.field()).isEqualTo("path"));
  }
}
