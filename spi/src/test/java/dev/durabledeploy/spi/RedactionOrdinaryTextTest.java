package dev.durabledeploy.spi;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Over-masking is the safe direction, but a scrubber that eats file paths, URLs and log lines makes
 * every failure message useless: ordinary build and server output must come through unchanged.
 */
@DisplayName("Inputs.redactCredentials leaves ordinary log lines and paths alone")
class RedactionOrdinaryTextTest {

  @ParameterizedTest
  @ValueSource(
      strings = {
        "src/main/java/dev/App.java:12: error: cannot find symbol",
        "\tat dev.durabledeploy.core.Foo.bar(Foo.java:42)",
        "2026-12-02T01:11:28.123Z INFO [main] user=alice action=login took=12ms",
        "GET https://cdn.example.com:8443/img/logo@2x.png 200",
        "cloning git@github.com:org/site.git into /var/cache/trees/ab12",
        "Listening on http://[::1]:8080/ and http://127.0.0.1:8080/",
        "ssh://git@git.example.com:2222/org/repo.git",
        "copied C:\\Users\\ci\\build\\out.zip to /srv/www/site/2024-01-01/out.zip",
        "scp dist.tar deploy@web1:/srv/www",
        "npm WARN deprecated @babel/plugin-proposal-class-properties@7.18.6: use @babel/core",
        "rsync -a ./public/ web@cdn1:/var/www/site/",
        "mysql -u root -p mydb < dump.sql",
        "Tokenizer: tokens=1200 passes=3",
        "/home/ci/.cache/pip/wheels/ab/cd/token_bucket-0.3-py3-none-any.whl",
        "Downloading https://registry.npmjs.org/@types/node/-/node-20.1.0.tgz",
        "password_reset.html",
        "secret-santa/index.html 200 OK"
      })
  @DisplayName("paths, URLs, stack frames and log lines come through unchanged")
  void unchanged(String line) {
    assertThat(Inputs.redactCredentials(line)).isEqualTo(line);
  }

  // Found by a hostile review: USER_OPTION (issue 22's `curl -u user:pw`) masked every "-u x:y",
  // docker's and podman's "-u user:group" and "sort -u file:line" too. After those tools the
  // option is left alone; anywhere else it is still masked (RedactionCorpusTest).
  @ParameterizedTest
  @ValueSource(
      strings = {
        "docker run --rm -u www-data:www-data app",
        "podman exec -u node:node web npm test",
        "sort -u src/app.ts:12: warning"
      })
  @DisplayName("an -u option that is no credential comes through unchanged")
  void userOptionsThatAreNoCredential(String line) {
    assertThat(Inputs.redactCredentials(line)).isEqualTo(line);
  }
}
