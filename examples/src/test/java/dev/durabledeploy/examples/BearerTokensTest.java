package dev.durabledeploy.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.durabledeploy.spi.Actor;
import dev.durabledeploy.spi.exception.ConfigurationException;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

@DisplayName("BearerTokens")
class BearerTokensTest {

  private static final String ALICE = "a1b2c3d4e5f60718293a4b5c6d7e8f90";
  private static final String BOT = "QUJDREVGR0hJSktMTU5PUFFSU1RVVg==";

  @Test
  @DisplayName("parses actor=token pairs and maps each token to its actor, and nothing else")
  void parses() {
    BearerTokens tokens = BearerTokens.parse(" user:alice=" + ALICE + " , ci:bot=" + BOT);
    assertThat(tokens.actorFor(ALICE)).contains(Actor.of("user:alice"));
    assertThat(tokens.actorFor(BOT)).contains(Actor.of("ci:bot"));
    assertThat(tokens.actorFor(ALICE.substring(1))).isEmpty();
    assertThat(tokens.actorFor(ALICE + "0")).isEmpty();
    assertThat(tokens.actorFor("")).isEmpty();
    assertThat(tokens.actorFor(null)).isEmpty();
    assertThat(tokens.toString()).contains("user:alice", "ci:bot").doesNotContain(ALICE, BOT);
  }

  @Test
  @DisplayName("unset or blank is no tokens")
  void none() {
    assertThat(BearerTokens.parse(null).isEmpty()).isTrue();
    assertThat(BearerTokens.parse("  ").isEmpty()).isTrue();
    assertThat(BearerTokens.none().actorFor(ALICE)).isEmpty();
  }

  @Test
  @DisplayName("refuses short, malformed and shared tokens, naming the variable, never the token")
  void refuses() {
    String shortToken = "tooshort123";
    assertThatThrownBy(() -> BearerTokens.parse("user:alice=" + shortToken))
        .isInstanceOfSatisfying(
            ConfigurationException.class, e -> assertThat(e.property()).isEqualTo(BearerTokens.ENV))
        .hasMessageContaining("user:alice")
        .hasMessageContaining("shorter than 20")
        .hasMessageNotContaining(shortToken);
    String spaced = "has space 0123456789abcdef0123";
    assertThatThrownBy(() -> BearerTokens.parse("user:alice=" + spaced))
        .isInstanceOf(ConfigurationException.class)
        .hasMessageNotContaining(spaced);
    assertThatThrownBy(() -> BearerTokens.parse("user:alice=" + ALICE + ",user:bob=" + ALICE))
        .isInstanceOf(ConfigurationException.class)
        .hasMessageContaining("entry 2")
        .hasMessageNotContaining(ALICE);
    assertThatThrownBy(() -> BearerTokens.parse(ALICE))
        .isInstanceOf(ConfigurationException.class)
        .hasMessageContaining("actor=token")
        .hasMessageNotContaining(ALICE);
  }
}
