package dev.durabledeploy.spi.blob;

import dev.durabledeploy.spi.Inputs;

/**
 * What a blob store keeps beside an object's bytes and serves back with it.
 *
 * @param contentType a MIME type, e.g. {@code text/html; charset=utf-8}
 * @param cacheControl a Cache-Control header value, or {@code null} for none
 */
public record BlobMetadata(String contentType, String cacheControl) {

  public static final String DEFAULT_CONTENT_TYPE = "application/octet-stream";

  public BlobMetadata {
    Inputs.requireText("contentType", contentType, 256);
    if (cacheControl != null) {
      Inputs.requireText("cacheControl", cacheControl, 256);
    }
  }

  /** Metadata with the given content type and no cache control. */
  public static BlobMetadata ofType(String contentType) {
    return new BlobMetadata(contentType, null);
  }

  /** {@code application/octet-stream}, no cache control. */
  public static BlobMetadata binary() {
    return new BlobMetadata(DEFAULT_CONTENT_TYPE, null);
  }
}
