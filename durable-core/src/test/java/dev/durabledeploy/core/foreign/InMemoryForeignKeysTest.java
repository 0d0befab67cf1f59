package dev.durabledeploy.core.foreign;

import java.nio.charset.StandardCharsets;
import java.util.stream.Stream;
import org.junit.jupiter.api.DisplayName;

@DisplayName("foreign keys on the in-memory bucket: folder objects, a//b, control characters")
class InMemoryForeignKeysTest extends ForeignKeyScenarios {

  static Stream<String> kinds() {
    return Stream.of("", "/x.html", "a\u0001b.html", "new\nline.html", "back\\slash.html");
  }

  @Override
  protected void plant(String rawKey) {
    rawBlobs.putForeign(rawKey, "foreign".getBytes(StandardCharsets.UTF_8));
  }
}
