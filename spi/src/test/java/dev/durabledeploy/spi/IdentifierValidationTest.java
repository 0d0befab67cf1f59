package dev.durabledeploy.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.durabledeploy.spi.blob.BlobKey;
import dev.durabledeploy.spi.blob.BlobPrefix;
import dev.durabledeploy.spi.exception.InvalidInputException;
import dev.durabledeploy.spi.git.RepoId;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

@DisplayName("identifiers are validated at the boundary (I1)")
class IdentifierValidationTest {

  /** Inputs every path-like identifier must refuse. */
  static final List<String> TRAVERSAL_CORPUS =
      List.of(
          "../etc/passwd",
          "a/../../b",
          "..",
          ".",
          "./a",
          "a/./b",
          "a/..",
          "/etc/passwd",
          "//server/share",
          "\\windows\\system32",
          "a\\b",
          "C:/Windows",
          "c:evil",
          "a//b",
          "a/",
          "a\u0000b",
          "a\nb",
          "a\rb",
          "a\tb",
          "\u001b[31m",
          "a\u007fb",
          "a\u0085b",
          "a\u2028b",
          "",
          "\ud800");

  static Stream<Arguments> pathTypes() {
    List<Arguments> out = new ArrayList<>();
    List<Function<String, Object>> types = List.of(UploadPath::new, BlobKey::new);
    List<String> fields = List.of("path", "key");
    for (int i = 0; i < types.size(); i++) {
      for (String bad : TRAVERSAL_CORPUS) {
        out.add(Arguments.of(fields.get(i), types.get(i), bad));
      }
    }
    return out.stream();
  }

  @ParameterizedTest(name = "{0} refuses {2}")
  @MethodSource("pathTypes")
  @DisplayName("path-like values refuse traversal, absolute paths, backslashes and control bytes")
  void pathsRefuseTheTraversalCorpus(String field, Function<String, Object> type, String bad) {
    assertThatThrownBy(() -> type.apply(bad))
        .isInstanceOf(InvalidInputException.class)
        .extracting(e -> ((InvalidInputException) e).field())
        .isEqualTo(field);
  }

  @Test
  @DisplayName("a null value is refused with the field name, not a NullPointerException")
  void nullIsInvalidInput() {
    assertThatThrownBy(() -> new SiteId(null))
        .isInstanceOf(InvalidInputException.class)
        .hasMessage("invalid site: is required");
    assertThatThrownBy(() -> new UploadPath(null)).isInstanceOf(InvalidInputException.class);
    assertThatThrownBy(() -> new BlobPrefix(null)).isInstanceOf(InvalidInputException.class);
  }

  @Test
  @DisplayName("ordinary paths with unicode, spaces and dots in names are accepted")
  void ordinaryPathsAreAccepted() {
    assertThat(new UploadPath("index.html").value()).isEqualTo("index.html");
    assertThat(new UploadPath("assets/app.min.js").value()).isEqualTo("assets/app.min.js");
    assertThat(new UploadPath("docs/über uns/..hidden..").value()).contains("über");
    assertThat(new BlobKey("site/deploys/x/日本語.txt").value()).endsWith(".txt");
    assertThat(new UploadPath(".well-known/security.txt").value()).startsWith(".well");
  }

  @Test
  @DisplayName("paths are limited to 1024 UTF-8 bytes and 255 bytes per segment")
  void pathLengthLimits() {
    String longSegment = "a".repeat(256);
    assertThatThrownBy(() -> new UploadPath(longSegment))
        .isInstanceOf(InvalidInputException.class)
        .hasMessageContaining("255 bytes");
    String fourByteChars = "😀".repeat(200) + "/" + "😀".repeat(60); // 1044 bytes
    assertThatThrownBy(() -> new BlobKey(fourByteChars))
        .isInstanceOf(InvalidInputException.class)
        .hasMessageContaining("UTF-8 bytes");
  }

  @Test
  @DisplayName("rejected values are rendered escaped and truncated in messages")
  void messagesEscapeControlCharacters() {
    assertThatThrownBy(() -> new SiteId("Bad\u001b[2J" + "x".repeat(100)))
        .hasMessageContaining("control character U+001B")
        .satisfies(e -> assertThat(e.getMessage()).doesNotContain("\u001b"));
    assertThat(Inputs.render("x".repeat(100))).isEqualTo("'" + "x".repeat(64) + "...'");
    assertThatThrownBy(() -> new UploadPath("a/../" + "x".repeat(500)))
        .satisfies(e -> assertThat(e.getMessage()).contains("...").hasSizeLessThan(200));
  }

  @Nested
  @DisplayName("site ids")
  class Sites {
    @ParameterizedTest
    @ValueSource(strings = {"a", "site-1", "0abc", "a-b-c"})
    void accepted(String value) {
      assertThat(SiteId.of(value).value()).isEqualTo(value);
    }

    @ParameterizedTest
    @ValueSource(strings = {"-a", "A", "a_b", "a.b", "a/b", "a b", "_trash", "ü"})
    void refused(String value) {
      assertThatThrownBy(() -> SiteId.of(value))
          .isInstanceOf(InvalidInputException.class)
          .hasMessageStartingWith("invalid site:");
    }

    @Test
    void atMost63Characters() {
      assertThat(SiteId.of("a".repeat(63)).value()).hasSize(63);
      assertThatThrownBy(() -> SiteId.of("a".repeat(64))).isInstanceOf(InvalidInputException.class);
    }
  }

  @Nested
  @DisplayName("alias names")
  class Aliases {
    @ParameterizedTest
    @ValueSource(strings = {"production", "preview", "pr-12", "feature_x"})
    void accepted(String value) {
      assertThat(AliasName.of(value).value()).isEqualTo(value);
    }

    @ParameterizedTest
    @ValueSource(strings = {"Prod", "../x", "a/b", "", "-x", "a.json"})
    void refused(String value) {
      assertThatThrownBy(() -> AliasName.of(value))
          .isInstanceOf(InvalidInputException.class)
          .extracting(e -> ((InvalidInputException) e).field())
          .isEqualTo("alias");
    }
  }

  @Nested
  @DisplayName("deploy ids")
  class DeployIds {
    @Test
    @DisplayName("are generated from the UTC time and the sha's first seven digits")
    void fromSha() {
      DeployId id = DeployId.forSha(Instant.parse("2026-03-04T05:06:07.890Z"), "ABCDEF0123456");
      assertThat(id.value()).isEqualTo("20260304-050607-abcdef0");
      assertThat(id.createdAt()).isEqualTo(Instant.parse("2026-03-04T05:06:07Z"));
    }

    @Test
    @DisplayName("get a random base-36 suffix without a sha, drawn from the injected random")
    void random() {
      Instant at = Instant.parse("2026-01-01T00:00:00Z");
      DeployId a = DeployId.random(at, new SplittableRandom(7));
      DeployId b = DeployId.random(at, new SplittableRandom(7));
      assertThat(a).isEqualTo(b);
      assertThat(a.value()).matches("20260101-000000-[0-9a-z]{7}");
    }

    @ParameterizedTest
    @ValueSource(
        strings = {
          "20261301-000000-abcdef0",
          "20260230-000000-abcdef0",
          "20260101-250000-abcdef0",
          "20260101-000000-ABCDEF0",
          "20260101-000000-abc",
          "my-deploy",
          "../../20260101-000000-abcdef0"
        })
    void refused(String value) {
      assertThatThrownBy(() -> DeployId.of(value))
          .isInstanceOf(InvalidInputException.class)
          .extracting(e -> ((InvalidInputException) e).field())
          .isEqualTo("deployId");
    }

    @Test
    void shaMustBeHex() {
      assertThatThrownBy(() -> DeployId.forSha(Instant.EPOCH, "xyz1234"))
          .isInstanceOf(InvalidInputException.class)
          .hasMessageStartingWith("invalid sha:");
    }

    @Test
    void sortChronologically() {
      DeployId older = DeployId.of("20250101-000000-zzzzzzz");
      DeployId newer = DeployId.of("20260101-000000-0000000");
      assertThat(older).isLessThan(newer);
    }
  }

  @Nested
  @DisplayName("blob keys and prefixes")
  class Blobs {
    @Test
    @DisplayName("prefixes end in a slash so site-a/ never matches site-ab/")
    void prefixesEndInSlash() {
      assertThat(BlobPrefix.of("site-a", "deploys").value()).isEqualTo("site-a/deploys/");
      assertThatThrownBy(() -> new BlobPrefix("site-a")).hasMessageContaining("must end with '/'");
      assertThat(BlobKey.of("site-ab/x").isUnder(BlobPrefix.of("site-a"))).isFalse();
      assertThat(BlobKey.of("site-a/x").isUnder(BlobPrefix.of("site-a"))).isTrue();
      assertThat(BlobPrefix.ROOT.value()).isEmpty();
    }

    @Test
    @DisplayName("prefixes refuse the traversal corpus too")
    void prefixesRefuseTraversal() {
      for (String bad : List.of("../", "a/../", "/a/", "a//", "a\\b/", "./")) {
        assertThatThrownBy(() -> new BlobPrefix(bad)).isInstanceOf(InvalidInputException.class);
      }
    }

    @Test
    @DisplayName("overlapping prefixes are detected")
    void overlap() {
      assertThat(BlobPrefix.of("a").overlaps(BlobPrefix.of("a", "b"))).isTrue();
      assertThat(BlobPrefix.of("a").overlaps(BlobPrefix.of("b"))).isFalse();
    }

    @Test
    @DisplayName("keys sort by UTF-8 bytes, as S3 lists them")
    void utf8Order() {
      String bmpHigh = "\uff61"; // EF BD A1 in UTF-8, but a higher UTF-16 unit than a surrogate
      String astral = "😀"; // F0 9F 98 80 in UTF-8, D83D DE00 in UTF-16
      assertThat(bmpHigh.compareTo(astral)).isPositive();
      assertThat(BlobKey.of(bmpHigh)).isLessThan(BlobKey.of(astral));
    }
  }

  @Nested
  @DisplayName("repo ids and job keys")
  class Repos {
    @ParameterizedTest
    @ValueSource(strings = {"web", "acme/web", "gitlab/acme/web.site", "a_b-c.d"})
    void accepted(String value) {
      assertThat(RepoId.of(value).value()).isEqualTo(value);
    }

    @ParameterizedTest
    @ValueSource(strings = {"../x", "a/../b", "/abs", "a//b", ".git", "a/.git", "a/b/c/d", "a\\b"})
    void refused(String value) {
      assertThatThrownBy(() -> RepoId.of(value))
          .isInstanceOf(InvalidInputException.class)
          .extracting(e -> ((InvalidInputException) e).field())
          .isEqualTo("repoId");
    }

    @Test
    void jobKeys() {
      assertThat(JobKey.of("clone:acme/web").value()).isEqualTo("clone:acme/web");
      assertThatThrownBy(() -> JobKey.of(" x")).isInstanceOf(InvalidInputException.class);
      assertThatThrownBy(() -> Actor.of("a\nb")).isInstanceOf(InvalidInputException.class);
    }
  }
}
