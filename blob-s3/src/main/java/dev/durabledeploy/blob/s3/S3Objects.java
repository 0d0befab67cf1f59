package dev.durabledeploy.blob.s3;

import dev.durabledeploy.blob.s3.S3Requests.NotFound;
import dev.durabledeploy.spi.blob.BlobContent;
import dev.durabledeploy.spi.blob.BlobInfo;
import dev.durabledeploy.spi.blob.BlobKey;
import dev.durabledeploy.spi.blob.BlobMetadata;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;
import software.amazon.awssdk.core.ResponseInputStream;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;
import software.amazon.awssdk.services.s3.model.HeadObjectResponse;

/** One object of an {@link S3BlobStore}: its get, stat and delete, and how S3 describes it. */
final class S3Objects {

  private static final Pattern SHA256_HEX = Pattern.compile("[0-9a-f]{64}");

  private final S3Requests requests;
  private final S3Client s3;
  private final String bucket;

  S3Objects(S3Requests requests) {
    this.requests = requests;
    this.s3 = requests.s3();
    this.bucket = requests.bucket();
  }

  Optional<BlobContent> get(BlobKey key) {
    try {
      ResponseInputStream<GetObjectResponse> stream =
          requests.call(
              "get " + key,
              () -> s3.getObject(r -> r.bucket(bucket).key(requests.key(key))),
              false);
      GetObjectResponse r = stream.response();
      BlobInfo info =
          new BlobInfo(
              key,
              r.contentLength(),
              metadata(r.contentType(), r.cacheControl()),
              r.lastModified(),
              etag(r.eTag()),
              sha256(r.metadata()));
      return Optional.of(new BlobContent(info, stream));
    } catch (NotFound e) {
      return Optional.empty();
    }
  }

  /** With {@code retry}: the confirmation of an upload, which its caller cannot repeat. */
  Optional<BlobInfo> stat(BlobKey key, boolean retry) {
    try {
      HeadObjectResponse r =
          requests.call(
              "stat " + key,
              () -> s3.headObject(h -> h.bucket(bucket).key(requests.key(key))),
              retry);
      return Optional.of(
          new BlobInfo(
              key,
              r.contentLength(),
              metadata(r.contentType(), r.cacheControl()),
              r.lastModified(),
              etag(r.eTag()),
              sha256(r.metadata())));
    } catch (NotFound e) {
      return Optional.empty();
    }
  }

  /** ETags come quoted; the quotes are not part of the tag. */
  static String etag(String quoted) {
    if (quoted == null || quoted.isEmpty()) {
      return null;
    }
    return quoted.length() >= 2 && quoted.startsWith("\"") && quoted.endsWith("\"")
        ? quoted.substring(1, quoted.length() - 1)
        : quoted;
  }

  /** The SHA-256 this store recorded, if the object has a well-formed one. */
  private static String sha256(Map<String, String> userMetadata) {
    String value = userMetadata == null ? null : userMetadata.get(S3BlobStore.SHA256_METADATA);
    return value != null && SHA256_HEX.matcher(value).matches() ? value : null;
  }

  private static BlobMetadata metadata(String contentType, String cacheControl) {
    return new BlobMetadata(
        contentType == null || contentType.isEmpty()
            ? BlobMetadata.DEFAULT_CONTENT_TYPE
            : contentType,
        cacheControl == null || cacheControl.isEmpty() ? null : cacheControl);
  }

  void delete(BlobKey key) {
    requests.call(
        "delete " + key,
        () -> s3.deleteObject(r -> r.bucket(bucket).key(requests.key(key))),
        false);
  }
}
