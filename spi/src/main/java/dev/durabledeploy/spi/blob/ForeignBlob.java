package dev.durabledeploy.spi.blob;

import dev.durabledeploy.spi.exception.InvalidInputException;
import java.time.Instant;
import java.util.Objects;

/**
 * An object a listing found under a key that is not a valid {@link BlobKey}: written by something
 * other than this library, e.g. a console's "folder" object ({@code site/deploys/<id>/}), a key
 * with an empty segment ({@code a//b}) or one with a control character. Listings report such
 * objects beside their items ({@link BlobPage#foreign()}) instead of failing, so one foreign object
 * never breaks the sagas of its prefix; prefix deletes and moves include them (see {@link
 * BlobStore#deletePrefix}).
 *
 * <p>The raw key comes from outside: put it into a message, log line or report only as {@link
 * #toString()} renders it (quoted, control and invisible formatting characters escaped).
 *
 * @param rawKey the key exactly as the store holds it, relative to the store's root
 * @param size the stored size in bytes, as the store reports it
 */
public record ForeignBlob(String rawKey, long size, Instant lastModified) {

  public ForeignBlob {
    Objects.requireNonNull(rawKey, "rawKey");
    Objects.requireNonNull(lastModified, "lastModified");
    if (size < 0) {
      throw new IllegalArgumentException("size must not be negative");
    }
  }

  /** Why the key is not a {@link BlobKey}, as the validation puts it; empty if it is one. */
  public String reason() {
    try {
      BlobKey.of(rawKey);
      return "";
    } catch (InvalidInputException e) {
      return e.reason();
    }
  }

  /** Whether the raw key lies under {@code prefix}. */
  public boolean isUnder(BlobPrefix prefix) {
    return rawKey.startsWith(prefix.value());
  }

  /**
   * {@code key} quoted for a message, whole (keys are short), with every control character,
   * invisible formatting character (e.g. U+202E, U+200B), unpaired surrogate and backslash escaped,
   * so the text cannot break a log line, hide characters or read as another key.
   */
  public static String render(String key) {
    StringBuilder out = new StringBuilder(key.length() + 2).append('\'');
    for (int i = 0; i < key.length(); i++) {
      char c = key.charAt(i);
      boolean pair =
          Character.isHighSurrogate(c)
              && i + 1 < key.length()
              && Character.isLowSurrogate(key.charAt(i + 1));
      if (pair) {
        out.append(c).append(key.charAt(++i));
      } else if (c == '\\') {
        out.append("\\\\");
      } else if (c == '\'') {
        out.append("\\'");
      } else if (Character.isISOControl(c)
          || Character.isSurrogate(c)
          || Character.getType(c) == Character.FORMAT
          || c == '\u2028'
          || c == '\u2029') {
        out.append(String.format("\\u%04x", (int) c));
      } else {
        out.append(c);
      }
    }
    return out.append('\'').toString();
  }

  /** The raw key rendered safely (see {@link #render}). */
  @Override
  public String toString() {
    return render(rawKey);
  }
}
