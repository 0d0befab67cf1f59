package dev.durabledeploy.spi.blob;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

@DisplayName("ForeignBlob")
class ForeignBlobTest {

  private static ForeignBlob foreign(String rawKey) {
    return new ForeignBlob(rawKey, 3, Instant.EPOCH);
  }

  @Test
  @DisplayName("renders a raw key quoted with control, invisible and ambiguous characters escaped")
  void rendering() {
    assertThat(foreign("a/b/").toString()).isEqualTo("'a/b/'");
    assertThat(foreign("a\nb\u0001c\u007f").toString()).isEqualTo("'a\\u000ab\\u0001c\\u007f'");
    assertThat(foreign("evil\u202Elmth.exe").toString()).isEqualTo("'evil\\u202elmth.exe'");
    assertThat(foreign("zero\u200Bwidth\uFEFF").toString()).isEqualTo("'zero\\u200bwidth\\ufeff'");
    assertThat(foreign("back\\slash 'q'").toString()).isEqualTo("'back\\\\slash \\'q\\''");
    assertThat(foreign("lone\uD800 ok\uD83D\uDE00").toString())
        .isEqualTo("'lone\\ud800 ok\uD83D\uDE00'");
    assertThat(foreign("line\u2028sep").toString()).isEqualTo("'line\\u2028sep'");
  }

  @Test
  @DisplayName("says why each kind of foreign key is not a blob key")
  void reasons() {
    for (String raw : List.of("a/b/", "a//b", "a\u0001b", "a\\b", "/abs", "a/../b")) {
      assertThat(foreign(raw).reason()).as(raw).isNotEmpty().doesNotContain("\u0001");
      assertThat(BlobKey.parse(raw)).as(raw).isEmpty();
    }
    assertThat(BlobKey.parse("a/b")).contains(BlobKey.of("a/b"));
    assertThat(foreign("a/b").reason()).isEmpty();
  }

  @Test
  @DisplayName("a page built without foreign objects has none")
  void pageCompatibility() {
    BlobPage page = new BlobPage(List.of(), null);
    assertThat(page.foreign()).isEmpty();
    assertThat(new BlobPage(List.of(), null, null).foreign()).isEmpty();
    assertThat(foreign("x/").isUnder(BlobPrefix.of("x"))).isTrue();
  }
}
