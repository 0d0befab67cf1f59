package dev.durabledeploy.core.sidecar;

import dev.durabledeploy.spi.Inputs;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * The last lines of a build step's output, for its failure message: at most {@value #MAX_LINES}
 * lines of at most {@value #MAX_LINE_CHARS} characters each, and at most {@value #MAX_CHARS}
 * characters in all, the oldest lines dropped first. A longer line is cut and says so. The output
 * is read in chunks and only what may be kept is held, so one endless line cannot fill the heap.
 *
 * <p>{@link #text()} is redacted: each line is scrubbed with {@value #LOOKAHEAD_CHARS} characters
 * beyond its cut (so a secret that straddles the cut is recognised whole), then the tail is
 * scrubbed again as one string, since a private key block spans lines and is recognised only whole.
 */
final class OutputTail {

  static final int MAX_LINES = 20;
  static final int MAX_LINE_CHARS = 1_000;
  static final int MAX_CHARS = 8_000;
  static final int LOOKAHEAD_CHARS = 200;

  /** One line as read: its first characters and how long it really was. */
  private record Line(String head, long length) {}

  // Guarded by itself: the reader thread appends, the supervisor renders.
  private final ArrayDeque<Line> lines = new ArrayDeque<>();

  /** Reads {@code output} to its end (the process's exit or a stop), keeping the tail. */
  void drain(InputStream output) throws IOException {
    Reader in = new InputStreamReader(output, StandardCharsets.UTF_8);
    char[] buffer = new char[8192];
    StringBuilder head = new StringBuilder();
    long length = 0;
    int n;
    while ((n = in.read(buffer)) >= 0) {
      for (int i = 0; i < n; i++) {
        char c = buffer[i];
        if (c == '\n') {
          add(head, length);
          head.setLength(0);
          length = 0;
        } else {
          if (head.length() < MAX_LINE_CHARS + LOOKAHEAD_CHARS) {
            head.append(c);
          }
          length++;
        }
      }
    }
    if (length > 0) {
      add(head, length);
    }
  }

  private void add(StringBuilder head, long length) {
    int end = head.length();
    if (end > 0 && head.charAt(end - 1) == '\r' && length == end) {
      end--;
      length--;
    }
    Line line = new Line(head.substring(0, end), length);
    synchronized (lines) {
      if (lines.size() == MAX_LINES) {
        lines.removeFirst();
      }
      lines.addLast(line);
    }
  }

  /** The kept lines, redacted, each cut to its bound, the oldest dropped to the total bound. */
  String text() {
    List<Line> kept;
    synchronized (lines) {
      kept = new ArrayList<>(lines);
    }
    ArrayDeque<String> shown = new ArrayDeque<>();
    for (Line line : kept) {
      String scrubbed = Inputs.redactCredentials(line.head());
      if (scrubbed.length() > MAX_LINE_CHARS || line.length() > line.head().length()) {
        scrubbed =
            scrubbed.substring(0, Math.min(MAX_LINE_CHARS, scrubbed.length()))
                + " [line cut: it had "
                + line.length()
                + " characters]";
      }
      shown.addLast(scrubbed);
    }
    int total = shown.stream().mapToInt(s -> s.length() + 1).sum();
    int dropped = 0;
    while (total > MAX_CHARS && shown.size() > 1) {
      total -= shown.removeFirst().length() + 1;
      dropped++;
    }
    String text = String.join("\n", shown);
    if (dropped > 0) {
      text = "[" + dropped + " earlier lines cut]\n" + text;
    }
    return Inputs.redactCredentials(text);
  }
}
