package dev.durabledeploy.spi;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.stream.Stream;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The scrubber runs on third-party text of any length (exception messages, server answers), so it
 * must stay linear in it: no pattern may scan the rest of a run again from every position in it.
 */
@DisplayName("Inputs.redactCredentials stays linear on long runs of name characters")
class RedactionLinearityTest {

  /** 40,000 characters: linear scrubbing takes milliseconds, a quadratic pattern ~15 s. */
  private static final int LENGTH = 40_000;

  static Stream<Arguments> texts() {
    return Stream.of(
        // A separator line of underscores and an e-mail address: BARE_USER_INFO started at every
        // underscore (its look-behind omitted _ and %) and scanned the run to its end each time.
        Arguments.of("underscores", "_".repeat(LENGTH) + " mail bob@example.com"),
        Arguments.of("percent signs", "%".repeat(LENGTH) + " mail bob@example.com"),
        // USER_OPTION scanned an unbounded user name from every "-u" not after a word character.
        Arguments.of("(-u repeated", "(-u".repeat(LENGTH / 3)),
        // The patterns of the second corpus: each must cost a bounded scan per start.
        Arguments.of("base64 run", "QUJD".repeat(LENGTH / 4) + " UFJJVkFURSBLRV"),
        Arguments.of("base64 markers", "cHJpdmF0ZV9rZX !!!!!!!!!!!!!!!!!".repeat(LENGTH / 32)),
        Arguments.of("AUTH repeated", "AUTH ".repeat(LENGTH / 5)),
        Arguments.of("machine repeated", "machine x login y ".repeat(LENGTH / 18)),
        Arguments.of("name/value repeated", "name: a, ".repeat(LENGTH / 9)),
        Arguments.of("identified by repeated", "identified by ".repeat(LENGTH / 14)),
        Arguments.of("dashes", "-".repeat(LENGTH) + " x"),
        Arguments.of("single-dash options", "-a ".repeat(LENGTH / 3)),
        Arguments.of("yaml indicators", "password: | ".repeat(LENGTH / 12)),
        Arguments.of(
            "yaml block lines",
            "password: |\n  x\nnext: a line of ordinary text\n".repeat(LENGTH / 40)),
        Arguments.of("putty lines", "Private-Lines: 1\n".repeat(LENGTH / 17)),
        Arguments.of("cut url", "https://u:" + "p".repeat(LENGTH) + " end"),
        Arguments.of("schemes", "a://b:".repeat(LENGTH / 6)),
        Arguments.of("redis-cli", "redis-cli ".repeat(LENGTH / 10)),
        Arguments.of("htpasswd", "htpasswd -b ".repeat(LENGTH / 12)),
        Arguments.of("sk- runs", "sk-".repeat(LENGTH / 3)));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("texts")
  @DisplayName("a long run is scrubbed in well under a second")
  void linear(String label, String text) {
    Inputs.redactCredentials("warm up " + text.substring(0, 1000));
    long start = System.nanoTime();
    String out = Inputs.redactCredentials(text);
    Duration took = Duration.ofNanos(System.nanoTime() - start);
    assertThat(out).hasSizeGreaterThan(LENGTH / 2);
    // Generous for a loaded machine: linear is ~10 to 150 ms, the quadratic patterns took 3 to 15
    // s.
    assertThat(took).isLessThan(Duration.ofSeconds(2));
  }
}
