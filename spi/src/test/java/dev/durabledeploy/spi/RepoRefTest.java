package dev.durabledeploy.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.durabledeploy.spi.exception.InvalidInputException;
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

  @Test
  @DisplayName("the transport URL keeps ssh user names and drops every secret")
  void withoutSecrets() {
    assertThat(RepoUrl.of("ssh://git@host.example/o/r.git").withoutSecrets().value())
        .isEqualTo("ssh://git@host.example/o/r.git");
    assertThat(RepoUrl.of("ssh://deploy:pw-1@host.example:2222/o/r").withoutSecrets().value())
        .isEqualTo("ssh://deploy@host.example:2222/o/r");
    assertThat(RepoUrl.of("deploy@host.example:o/r.git").withoutSecrets().value())
        .isEqualTo("deploy@host.example:o/r.git");
    assertThat(RepoUrl.of("https://x-token:tok-2@host.example/o/r").withoutSecrets().value())
        .isEqualTo("https://host.example/o/r");
    assertThat(RepoUrl.of("https://tok-3@host.example/o/r?x=1").withoutSecrets().value())
        .isEqualTo("https://host.example/o/r");
  }

  @Test
  @DisplayName("a password with a raw '@' is refused with the fix, not echoed")
  void rawAtInPassword() {
    assertThatThrownBy(() -> RepoUrl.of("https://u:p@ss@host.example/r.git"))
        .isInstanceOfSatisfying(
            InvalidInputException.class,
            e -> assertThat(e.getMessage()).contains("%40").doesNotContain("ss@"));
  }

  @Test
  @DisplayName("the cache key changes with id, URL or branch, and not with credentials")
  void cacheKey() {
    RepoRef x = RepoRef.of("acme/web", "https://a:tok-1@git.example.com/x/web.git", "main");
    RepoRef sameWithOtherToken =
        RepoRef.of("acme/web", "https://a:tok-2@git.example.com/x/web.git", "main");
    assertThat(x.cacheKey()).isEqualTo(sameWithOtherToken.cacheKey());
    assertThat(x.cacheKey()).startsWith("acme~web@").doesNotContain("/").doesNotContain("tok");
    java.util.Set<String> keys =
        java.util.Set.of(
            x.cacheKey(),
            RepoRef.of("acme/web", "https://git.example.com/y/web.git", "main").cacheKey(),
            RepoRef.of("acme/web", "https://git.example.com/x/web.git", "dev").cacheKey(),
            RepoRef.of("Acme/Web", "https://git.example.com/x/web.git", "main").cacheKey(),
            RepoRef.of("acme", "https://git.example.com/x/web.git", "main").cacheKey());
    assertThat(keys).hasSize(5);
    // No key is a prefix of another, even ignoring case: directories named after them never nest.
    for (String a : keys) {
      for (String b : keys) {
        if (!a.equals(b)) {
          assertThat(b.toLowerCase(java.util.Locale.ROOT))
              .doesNotStartWith(a.toLowerCase(java.util.Locale.ROOT));
        }
      }
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"HTTPS://git.example.com/a/b.git", "Https://git.example.com/a/b.git"})
  @DisplayName("the scheme is stored in lower case: one URL for the policy, the cache and git")
  void schemeInLowerCase(String spelled) {
    RepoUrl url = RepoUrl.of(spelled);
    assertThat(url.value()).isEqualTo("https://git.example.com/a/b.git");
    assertThat(url.scheme()).isEqualTo("https");
    assertThat(RepoRef.of("a/b", spelled, "main").cacheKey())
        .isEqualTo(RepoRef.of("a/b", "https://git.example.com/a/b.git", "main").cacheKey());
    assertThat(RepoUrl.of("HTTPS://Tok@git.example.com/a/b.git").redacted())
        .isEqualTo("https://***@git.example.com/a/b.git");
  }
}
