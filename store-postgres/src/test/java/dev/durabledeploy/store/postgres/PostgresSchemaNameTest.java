package dev.durabledeploy.store.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.exception.ConfigurationException;
import dev.durabledeploy.spi.outbox.NewEvent;
import dev.durabledeploy.testkit.fixtures.PostgresExtension;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

@DisplayName("PostgresStore schema names are identifiers every derived name fits")
class PostgresSchemaNameTest {

  @RegisterExtension static final PostgresExtension PG = new PostgresExtension();

  private PostgresStore.Builder builder(String schema) {
    return PostgresStore.builder()
        .jdbcUrl(PG.jdbcUrl())
        .username(PG.username())
        .password(PG.password())
        .schema(schema)
        .migrateOnStart(true);
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "user", // a reserved word: CREATE TABLE user.deploys is a syntax error
        "select",
        "pg_deploys", // pg_ is reserved for system schemas
        "durable_deploy_with_a_name_so_long_that_its_outbox_channel_does_not_fit",
        "abcdefghij_abcdefghij_abcdefghij_abcdefghij_abcdefghij_xy", // 57: channel is 64 bytes
        "Durable",
        "durable-deploy",
        "d\"; DROP TABLE x; --"
      })
  @DisplayName("a reserved, pg_-prefixed, too long or non-identifier schema is refused at build")
  void refused(String schema) {
    assertThatThrownBy(() -> builder(schema).build())
        .isInstanceOfSatisfying(
            ConfigurationException.class, e -> assertThat(e.property()).isEqualTo("schema"));
  }

  @Test
  @DisplayName("the longest allowed schema (56 characters) migrates and notifies")
  void longestWorks() {
    String schema = "abcdefghij_abcdefghij_abcdefghij_abcdefghij_abcdefghij_xy".substring(0, 56);
    try (PostgresStore store = builder(schema).build()) {
      store.outbox().append(new NewEvent(SiteId.of("site-a"), "e.x", Map.of()));
      assertThat(store.outbox().stats().undelivered()).isEqualTo(1);
    }
  }
}
