package dev.durabledeploy.spi;

import dev.durabledeploy.spi.exception.InvalidInputException;
import java.text.Normalizer;
import java.util.Locale;

/**
 * The path of one file inside a deploy, relative to the deploy root, e.g. {@code assets/app.js}.
 * Never absolute, never escaping the deploy: see {@link Inputs#requireRelativePath}. At most 1,024
 * UTF-8 bytes.
 *
 * <p>One spelling per file: the value is normalised to Unicode NFC, so {@code "cafe\u0301"} and
 * {@code "caf\u00e9"} are one path (equal, with one blob key), and a deploy can never hold two
 * files whose names look the same. So that a name cannot pretend to be another, these are refused:
 * invisible format characters (Unicode category Cf: zero-width spaces and joiners, U+FEFF, the
 * bidirectional embeddings, overrides and isolates U+202A-202E and U+2066-2069, soft hyphens...);
 * the other default-ignorable code points, which render as nothing (the Hangul fillers U+115F,
 * U+1160, U+3164, U+FFA0, the combining grapheme joiner U+034F, the Khmer inherent vowels
 * U+17B4-17B5, the variation selectors U+180B-180F, U+FE00-FE0F and U+E0100-E01EF), except where a
 * selector or joiner shapes its neighbours and so shows (an emoji's presentation selector or
 * joiner, the joiners of Arabic-script and Indic spelling); the Braille blank U+2800; every space
 * but U+0020 (the no-break, ideographic and other spaces look like it); and any whitespace at the
 * start or end of a segment ({@code "index.html "}), which many tools strip. The completion
 * marker's name ({@value #RESERVED_MARKER_NAME}) is reserved at the deploy root in every
 * case-insensitive spelling (full case folding, so {@code ".durable-deploy.j\u017fon"} with a long
 * s is the marker too), since case-insensitive filesystems and tools would treat the variants as
 * the marker.
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
      if (shapesItsNeighbours(value, i, cp)) {
        i += Character.charCount(cp);
        continue;
      }
      if (Character.getType(cp) == Character.FORMAT) {
        throw new InvalidInputException(
            "path",
            "contains the invisible format character "
                + String.format("U+%04X", cp)
                + " at index "
                + i
                + " (zero-width and bidirectional control characters are refused)");
      }
      if (isInvisible(cp)) {
        throw new InvalidInputException(
            "path",
            "contains "
                + String.format("U+%04X", cp)
                + " at index "
                + i
                + ", which renders as nothing or as a space (invisible fillers, variation"
                + " selectors and spaces other than U+0020 are refused)");
      }
      i += Character.charCount(cp);
    }
    for (String segment : value.split("/")) {
      int first = segment.codePointAt(0);
      int last = segment.codePointBefore(segment.length());
      if (isBlank(first) || isBlank(last)) {
        throw new InvalidInputException(
            "path",
            "has a segment that starts or ends with whitespace ("
                + String.format("U+%04X", isBlank(first) ? first : last)
                + "); tools strip it, so the name would look like another");
      }
    }
    if (value.equalsIgnoreCase(RESERVED_MARKER_NAME)
        || fold(value).equals(fold(RESERVED_MARKER_NAME))) {
      throw new InvalidInputException(
          "path", "'" + RESERVED_MARKER_NAME + "' is reserved for the deploy's marker");
    }
  }

  /**
   * Full case folding for the marker check: upper case then lower case, so every spelling that a
   * case-insensitive comparison ({@link String#equalsIgnoreCase}, NTFS's upper-case table) takes
   * for the marker's name folds to it, the long s U+017F and the Kelvin sign U+212A included.
   */
  private static String fold(String s) {
    return s.toUpperCase(Locale.ROOT).toLowerCase(Locale.ROOT);
  }

  /**
   * A selector or joiner that changes what its neighbours look like, so it shows: the emoji
   * presentation selector U+FE0F after a symbol ({@code "\u2764\ufe0f"}, a red heart) or in a
   * keycap ({@code "1\ufe0f\u20e3"}); the zero width joiner between emoji ({@code
   * "\ud83d\udc68\u200d\ud83d\udc69"}, one family glyph); and the zero width joiner and non-joiner
   * between two letters of a script whose letters join or form conjuncts (Persian {@code
   * "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"}, Devanagari). Anywhere else they render as
   * nothing and are refused. Left possible: a name that differs from another only by a selector
   * after an emoji shown as emoji by default, or by a non-joiner after a letter that does not join
   * (telling those apart needs Unicode's emoji and joining data).
   */
  private static boolean shapesItsNeighbours(String value, int i, int cp) {
    if (cp != 0xFE0F && cp != 0x200D && cp != 0x200C) {
      return false;
    }
    int before = i > 0 ? value.codePointBefore(i) : -1;
    int next = i + Character.charCount(cp);
    int after = next < value.length() ? value.codePointAt(next) : -1;
    return switch (cp) {
      case 0xFE0F -> isEmoji(before) || (isKeycapBase(before) && after == 0x20E3);
      case 0x200D ->
          ((isEmoji(before) || before == 0xFE0F) && isEmoji(after))
              || joinsInItsScript(before, after);
      default -> joinsInItsScript(before, after);
    };
  }

  /** A pictograph or symbol, or a skin tone modifier (which ends an emoji a joiner may follow). */
  private static boolean isEmoji(int cp) {
    return cp >= 0
        && (Character.getType(cp) == Character.OTHER_SYMBOL || (cp >= 0x1F3FB && cp <= 0x1F3FF));
  }

  private static boolean isKeycapBase(int cp) {
    return (cp >= '0' && cp <= '9') || cp == '#' || cp == '*';
  }

  /** Both neighbours letters or marks of one script whose letters join or form conjuncts. */
  private static boolean joinsInItsScript(int before, int after) {
    if (before < 0 || after < 0 || !isLetterOrMark(before) || !isLetterOrMark(after)) {
      return false;
    }
    Character.UnicodeScript script = Character.UnicodeScript.of(before);
    return script == Character.UnicodeScript.of(after) && JOINING_SCRIPTS.contains(script);
  }

  private static boolean isLetterOrMark(int cp) {
    int type = Character.getType(cp);
    return Character.isLetter(cp)
        || type == Character.NON_SPACING_MARK
        || type == Character.COMBINING_SPACING_MARK;
  }

  /** Scripts whose spelling uses the zero width joiner and non-joiner. */
  private static final java.util.Set<Character.UnicodeScript> JOINING_SCRIPTS =
      java.util.EnumSet.of(
          Character.UnicodeScript.ARABIC,
          Character.UnicodeScript.SYRIAC,
          Character.UnicodeScript.NKO,
          Character.UnicodeScript.MONGOLIAN,
          Character.UnicodeScript.DEVANAGARI,
          Character.UnicodeScript.BENGALI,
          Character.UnicodeScript.GURMUKHI,
          Character.UnicodeScript.GUJARATI,
          Character.UnicodeScript.ORIYA,
          Character.UnicodeScript.TAMIL,
          Character.UnicodeScript.TELUGU,
          Character.UnicodeScript.KANNADA,
          Character.UnicodeScript.MALAYALAM,
          Character.UnicodeScript.SINHALA);

  /** Whitespace of any kind, for the ends of a segment. */
  private static boolean isBlank(int cp) {
    return Character.isWhitespace(cp) || Character.isSpaceChar(cp) || cp == 0x2800;
  }

  /**
   * Code points that render as nothing or as a plain space (besides category Cf, refused above):
   * the default-ignorable ones of other categories, the Braille blank, and every space separator
   * but U+0020.
   */
  private static boolean isInvisible(int cp) {
    return cp == 0x034F
        || cp == 0x115F
        || cp == 0x1160
        || cp == 0x17B4
        || cp == 0x17B5
        || (cp >= 0x180B && cp <= 0x180F)
        || cp == 0x2800
        || cp == 0x3164
        || (cp >= 0xFE00 && cp <= 0xFE0F)
        || cp == 0xFFA0
        || (cp >= 0xE0100 && cp <= 0xE01EF)
        || (cp != ' ' && Character.getType(cp) == Character.SPACE_SEPARATOR);
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
