package dev.durabledeploy.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class QuickstartTest {

  @TempDir Path dir;

  @Test
  @DisplayName("the quickstart walks the whole lifecycle and can run twice")
  void runs() throws Exception {
    for (int run = 0; run < 2; run++) {
      ByteArrayOutputStream captured = new ByteArrayOutputStream();
      new Quickstart(new PrintStream(captured, true, StandardCharsets.UTF_8))
          .run(dir.resolve("run-" + run));
      String out = captured.toString(StandardCharsets.UTF_8);
      assertThat(out)
          .contains("finalized")
          .contains("promoted preview to production (version 2)")
          .contains("rolled production back")
          .contains("deleted")
          .contains("restored")
          .contains("GC dry run")
          .contains("drift report: clean")
          .contains("summary: 2 deploys");
    }
  }
}
