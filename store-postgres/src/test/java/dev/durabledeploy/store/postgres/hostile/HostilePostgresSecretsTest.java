package dev.durabledeploy.store.postgres.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import dev.durabledeploy.store.postgres.PostgresStore;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A JDBC URL is a type that holds a secret (issue 22.9): every message built from it must be
 * redacted. A host with a typo in its URL gets whatever build() throws, and logs it.
 */
@DisplayName("hostile: a mistyped JDBC URL with a password never reaches an exception or log")
class HostilePostgresSecretsTest {

  private static String everything(Throwable t) {
    StringBuilder all = new StringBuilder();
    for (Throwable c = t; c != null; c = c.getCause()) {
      all.append(c.getClass().getName()).append(": ").append(c.getMessage()).append('\n');
      for (Throwable s : c.getSuppressed()) {
        all.append(everything(s));
      }
    }
    return all.toString();
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "jdbc:postgresql://db:54x32/app?user=app&password=PgSecret-1",
        "jdbc:postgresql://db:99999/app?password=PgSecret-1",
      })
  @DisplayName("build() on a URL the driver refuses: no password in the exception or the log")
  void mistypedUrl(String url) {
    PrintStream err = System.err;
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    Throwable thrown = null;
    System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
    try {
      PostgresStore.builder().jdbcUrl(url).build().close();
    } catch (Throwable t) {
      thrown = t;
    } finally {
      System.setErr(err);
    }
    assertThat(thrown).as("a URL with an invalid port must be refused").isNotNull();
    assertThat(everything(thrown)).doesNotContain("PgSecret-1");
    assertThat(thrown.toString()).doesNotContain("PgSecret-1");
    assertThat(captured.toString(StandardCharsets.UTF_8)).doesNotContain("PgSecret-1");
  }
}
