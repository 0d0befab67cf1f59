package dev.durabledeploy.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.durabledeploy.spi.git.RepoRef;
import dev.durabledeploy.spi.git.RepoUrl;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

@DisplayName("repository references never show credentials (I2)")
class RepoRefTest {

  @Test
  @DisplayName("user info and query strings are redacted in toString")
  void redactsCredentials() {
    RepoUrl url = RepoUrl.of("https://user:secret@git.example.com/acme/web.git?token=secret2");
    assertThat(url.toString())
        .isEqualTo("https://***@git.example.com/acme/web.git?***")
        .doesNotContain("secret");
    assertThat(url.withoutCredentials().value()).isEqualTo("https://git.example.com/acme/web.git");
    assertThat(url.userInfo()).contains("user:secret");
    RepoRef ref = new RepoRef(dev.durabledeploy.spi.git.RepoId.of("acme/web"), url, "main");
    assertThat(ref.toString()).doesNotContain("secret").contains("acme/web");
  }

  @Test
  @DisplayName("a bare token as user is redacted too")
  void redactsTokenAsUser() {
    assertThat(RepoUrl.of("https://ghp_abcdef@github.com/a/b").toString())
        .isEqualTo("https://***@github.com/a/b");
  }

  @Test
  @DisplayName("scp-like URLs keep the conventional git user and hide any other")
  void scpLike() {
    assertThat(RepoUrl.of("git@github.com:acme/web.git").toString())
        .isEqualTo("git@github.com:acme/web.git");
    assertThat(RepoUrl.of("deploy@host:repo").toString()).isEqualTo("***@host:repo");
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "ftp://host/x",
        "https://",
        "https://host",
        "https://host/",
        "not a url",
        "https://user:pa ss@host/x",
        "javascript:alert(1)"
      })
  @DisplayName("invalid URLs are refused without echoing them")
  void refused(String url) {
    assertThatThrownBy(() -> RepoUrl.of(url))
        .isInstanceOf(InvalidInputException.class)
        .satisfies(e -> assertThat(e.getMessage()).doesNotContain("pa ss").doesNotContain(url));
  }

  @Test
  @DisplayName("a malformed URI with a password does not leak it through the parser message")
  void malformedUriDoesNotLeak() {
    assertThatThrownBy(() -> RepoUrl.of("https://u:hunter2@host/a%zz"))
        .isInstanceOf(InvalidInputException.class)
        .satisfies(e -> assertThat(e.getMessage()).doesNotContain("hunter2"));
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "-x", "a..b", "a b", "a~1", "a^", "a:b", "a?", "a*", "a[", "x.lock", "x/", "/x", "a@{1}",
        ".hidden"
      })
  @DisplayName("branch names follow git's ref rules")
  void badBranches(String branch) {
    assertThatThrownBy(() -> RepoRef.of("a", "https://h/a", branch))
        .isInstanceOf(InvalidInputException.class)
        .extracting(e -> ((InvalidInputException) e).field())
        .isEqualTo("branch");
  }

  @Test
  void goodBranches() {
    assertThat(RepoRef.of("a", "file:///tmp/repo", "feature/x-1").branch())
        .isEqualTo("feature/x-1");
  }

  @Test
  @DisplayName("free text is scrubbed of URL user info and secret-named parameters")
  void redactsFreeText() {
    String text =
        "connect to jdbc:postgresql://db/x?user=app&password=hunter2 failed;"
            + " redis://:s3cret@cache:6379 and https://u:p@h/x?X-Amz-Signature=abc123&ok=1"
            + " token: ghp_123 api_key=k1";
    String redacted = Inputs.redactCredentials(text);
    assertThat(redacted)
        .doesNotContain("hunter2")
        .doesNotContain("s3cret")
        .doesNotContain("u:p@")
        .doesNotContain("abc123")
        .doesNotContain("ghp_123")
        .doesNotContain("k1")
        .contains("password=***")
        .contains("redis://***@cache")
        .contains("ok=1");
    assertThat(Inputs.redactCredentials(null)).isNull();
  }
}
