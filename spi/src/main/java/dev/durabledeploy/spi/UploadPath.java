package dev.durabledeploy.spi;

/**
 * The path of one file inside a deploy, relative to the deploy root, e.g. {@code assets/app.js}.
 * Never absolute, never escaping the deploy: see {@link Inputs#requireRelativePath}. At most 1,024
 * UTF-8 bytes.
 */
public record UploadPath(String value) implements Comparable<UploadPath> {

  public static final int MAX_BYTES = 1024;

  /** The file every finalized deploy must contain. */
  public static final UploadPath INDEX_HTML = new UploadPath("index.html");

  public UploadPath {
    Inputs.requireRelativePath("path", value, MAX_BYTES, false);
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
