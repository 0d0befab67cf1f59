package dev.durabledeploy.spi;

import java.text.Normalizer;
import java.util.Locale;

/**
 * The path of one file inside a deploy, relative to the deploy root, e.g. {@code assets/app.js}.
 * Never absolute, never escaping the deploy: see {@link Inputs#requireRelativePath}. At most 1,024
 * UTF-8 bytes.
 *
 * <p>One spelling per file: the value is normalised to Unicode NFC, so {@code "cafe\u0301"} and
 * {@code "caf\u00e9"} are one path (equal, with one blob key), and a deploy can never hold two
 * files whose names look the same. Invisible format characters (Unicode category Cf: zero-width
 * spaces and joiners, U+FEFF, the bidirectional embeddings, overrides and isolates U+202A-202E and
 * U+2066-2069, soft hyphens...) are refused, so a name cannot pretend to be another. The completion
 * marker's name ({@value #RESERVED_MARKER_NAME}) is reserved at the deploy root in every letter
 * case, since case-insensitive filesystems and tools would treat the variants as the marker.
 */
public record UploadPath(String value) implements Comparable<UploadPath> {

  public static final int MAX_BYTES = 1024;

  /** The name of the marker finalize writes into the deploy root; no upload may take it. */
  public static final String RESERVED_MARKER_NAME = ".durable-deploy.json";

  /** The file every finalized deploy must contain. */
  public static final UploadPath INDEX_HTML = new UploadPath("index.html");

  public UploadPath {
    Inputs.requireText("path", value, MAX_BYTES * 4);
    value = Normalizer.normalize(value, Normalizer.Form.NFC);
    Inputs.requireRelativePath("path", value, MAX_BYTES, false);
    for (int i = 0; i < value.length(); ) {
      int cp = value.codePointAt(i);
      if (Character.getType(cp) == Character.FORMAT) {
        throw new InvalidInputException(
            "path",
            "contains the invisible format character "
                + String.format("U+%04X", cp)
                + " at index "
                + i
                + " (zero-width and bidirectional control characters are refused)");
      }
      i += Character.charCount(cp);
    }
    if (value.toLowerCase(Locale.ROOT).equals(RESERVED_MARKER_NAME)) {
      throw new InvalidInputException(
          "path", "'" + RESERVED_MARKER_NAME + "' is reserved for the deploy's marker");
    }
  }

  public static UploadPath of(String value) {
    return new UploadPath(value);
  }

  @Override
  public int compareTo(UploadPath other) {
    return value.compareTo(other.value);
  }

  @Override
  public String toString() {
    return value;
  }
}
