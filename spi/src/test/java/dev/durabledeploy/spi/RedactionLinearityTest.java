package dev.durabledeploy.spi;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.function.IntFunction;
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

  /**
   * 10,000 and 40,000 characters: linear scrubbing takes four times as long on the longer text, a
   * quadratic pattern sixteen times (it took ~15 s at 40,000).
   */
  private static final int SHORT = 10_000;

  private static final int LONG = 4 * SHORT;

  static Stream<Arguments> texts() {
    // Each text is built for a length n, so the same shape is timed at two lengths.
    return Stream.of(
        // A separator line of underscores and an e-mail address: BARE_USER_INFO started at every
        // underscore (its look-behind omitted _ and %) and scanned the run to its end each time.
        Arguments.of(
            "underscores", (IntFunction<String>) n -> "_".repeat(n) + " mail bob@example.com"),
        Arguments.of(
            "percent signs", (IntFunction<String>) n -> "%".repeat(n) + " mail bob@example.com"),
        // USER_OPTION scanned an unbounded user name from every "-u" not after a word character.
        Arguments.of("(-u repeated", (IntFunction<String>) n -> "(-u".repeat(n / 3)),
        // The patterns of the second corpus: each must cost a bounded scan per start.
        Arguments.of(
            "base64 run", (IntFunction<String>) n -> "QUJD".repeat(n / 4) + " UFJJVkFURSBLRV"),
        Arguments.of(
            "base64 markers",
            (IntFunction<String>) n -> "cHJpdmF0ZV9rZX !!!!!!!!!!!!!!!!!".repeat(n / 32)),
        Arguments.of("AUTH repeated", (IntFunction<String>) n -> "AUTH ".repeat(n / 5)),
        Arguments.of(
            "machine repeated", (IntFunction<String>) n -> "machine x login y ".repeat(n / 18)),
        Arguments.of("name/value repeated", (IntFunction<String>) n -> "name: a, ".repeat(n / 9)),
        Arguments.of(
            "identified by repeated", (IntFunction<String>) n -> "identified by ".repeat(n / 14)),
        Arguments.of("dashes", (IntFunction<String>) n -> "-".repeat(n) + " x"),
        Arguments.of("single-dash options", (IntFunction<String>) n -> "-a ".repeat(n / 3)),
        Arguments.of("yaml indicators", (IntFunction<String>) n -> "password: | ".repeat(n / 12)),
        Arguments.of(
            "yaml block lines",
            (IntFunction<String>)
                n -> "password: |\n  x\nnext: a line of ordinary text\n".repeat(n / 40)),
        Arguments.of("putty lines", (IntFunction<String>) n -> "Private-Lines: 1\n".repeat(n / 17)),
        Arguments.of("cut url", (IntFunction<String>) n -> "https://u:" + "p".repeat(n) + " end"),
        Arguments.of("schemes", (IntFunction<String>) n -> "a://b:".repeat(n / 6)),
        Arguments.of("redis-cli", (IntFunction<String>) n -> "redis-cli ".repeat(n / 10)),
        Arguments.of("htpasswd", (IntFunction<String>) n -> "htpasswd -b ".repeat(n / 12)),
        Arguments.of("sk- runs", (IntFunction<String>) n -> "sk-".repeat(n / 3)));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("texts")
  @DisplayName("four times the text costs about four times the time, not sixteen")
  void linear(String label, IntFunction<String> text) {
    String shorter = text.apply(SHORT);
    String longer = text.apply(LONG);
    Inputs.redactCredentials("warm up " + shorter);
    // Side by side, the best of three each: a ratio is what a loaded machine cannot fake, an
    // absolute bound is (it failed at 4 s under a parallel build while 0.1 s when alone).
    long tShort = Long.MAX_VALUE;
    long tLong = Long.MAX_VALUE;
    for (int i = 0; i < 3; i++) {
      tShort = Math.min(tShort, time(shorter));
      tLong = Math.min(tLong, time(longer));
    }
    assertThat(Inputs.redactCredentials(longer)).hasSizeGreaterThan(LONG / 2);
    // Linear: ~4x. Quadratic: ~16x (3 to 15 s at this length). The 1 s floor keeps the stalls of
    // a loaded machine out (linear takes 30 to 320 ms at 40,000 there, 6 to 80 ms alone).
    assertThat(tLong)
        .as(
            "%s: %d ms at %d characters, %d ms at %d",
            label, tLong / 1_000_000, LONG, tShort / 1_000_000, SHORT)
        .isLessThan(Math.max(9 * tShort, 1_000_000_000L));
  }

  private static long time(String text) {
    long start = System.nanoTime();
    Inputs.redactCredentials(text);
    return System.nanoTime() - start;
  }
}
