package dev.durabledeploy.blob.s3;

import dev.durabledeploy.blob.s3.S3Requests.NotFound;
import dev.durabledeploy.blob.s3.S3Requests.PreconditionFailed;
import dev.durabledeploy.spi.Inputs;
import dev.durabledeploy.spi.blob.BlobExistsException;
import dev.durabledeploy.spi.blob.BlobInfo;
import dev.durabledeploy.spi.blob.BlobKey;
import dev.durabledeploy.spi.blob.BlobMetadata;
import dev.durabledeploy.spi.exception.DurableDeployException;
import dev.durabledeploy.spi.exception.InvalidInputException;
import dev.durabledeploy.spi.exception.TransientStoreException;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.CompletedMultipartUpload;
import software.amazon.awssdk.services.s3.model.CompletedPart;
import software.amazon.awssdk.services.s3.model.PutObjectResponse;

/**
 * The uploads of an {@link S3BlobStore}: a put or create from memory up to the multipart threshold,
 * with the SHA-256 as user metadata, and a streamed multipart upload above it.
 */
final class S3Uploads {

  private final S3Requests requests;
  private final S3Objects objects;
  private final S3Client s3;
  private final String bucket;
  private final long multipartThreshold;
  private final long partSize;

  S3Uploads(S3Requests requests, S3Objects objects, long multipartThreshold, long partSize) {
    this.requests = requests;
    this.objects = objects;
    this.s3 = requests.s3();
    this.bucket = requests.bucket();
    this.multipartThreshold = multipartThreshold;
    this.partSize = partSize;
  }

  BlobInfo write(
      BlobKey key, InputStream data, long size, BlobMetadata metadata, boolean createOnly) {
    Objects.requireNonNull(key, "key");
    Objects.requireNonNull(data, "data");
    Objects.requireNonNull(metadata, "metadata");
    Inputs.requireRange("size", size, 0, 5L * 1024 * 1024 * 1024 * 1024);
    if (size > multipartThreshold) {
      return multipart(key, data, size, metadata, createOnly);
    }
    byte[] body = readExactly(data, (int) size);
    String sha256 = HexFormat.of().formatHex(digest("SHA-256").digest(body));
    // A put is sent once: every caller holds its bytes and retries it whole (the core with its
    // retrier). A create is retried here, because the core hands it an upload's one-shot stream
    // and no retrier; the retry is told apart from a concurrent creator by the SHA-256 recorded
    // with the object.
    PutObjectResponse stored;
    try {
      stored =
          requests.call(
              (createOnly ? "create " : "put ") + key,
              () ->
                  s3.putObject(
                      r -> {
                        r.bucket(bucket)
                            .key(requests.key(key))
                            .contentType(metadata.contentType())
                            .cacheControl(metadata.cacheControl())
                            .metadata(Map.of(S3BlobStore.SHA256_METADATA, sha256))
                            .contentLength(size);
                        if (createOnly) {
                          r.ifNoneMatch("*");
                        }
                      },
                      RequestBody.fromBytes(body)),
              createOnly,
              createOnly);
    } catch (PreconditionFailed e) {
      Optional<BlobInfo> there = e.retried ? objects.stat(key, true) : Optional.empty();
      if (there.isPresent() && there.get().size() == size && sha256.equals(there.get().sha256())) {
        return there.get();
      }
      throw new BlobExistsException(key);
    }
    // The answer to the PutObject describes the object: no HEAD to confirm it (S3 is read-after-
    // write consistent), which would be a second request per upload. Its ETag is the one listings
    // and stats report; S3 keeps no finer time than the second, which the answer's Date gives.
    return new BlobInfo(
        key, size, metadata, answeredAt(stored), S3Objects.etag(stored.eTag()), sha256);
  }

  /** When the server answered (its {@code Date} header), else now, to the second. */
  private static Instant answeredAt(PutObjectResponse answer) {
    return answer
        .sdkHttpResponse()
        .firstMatchingHeader("Date")
        .flatMap(
            date -> {
              try {
                return Optional.of(Instant.from(DateTimeFormatter.RFC_1123_DATE_TIME.parse(date)));
              } catch (DateTimeParseException unreadable) {
                return Optional.empty();
              }
            })
        .orElseGet(() -> Instant.now().truncatedTo(ChronoUnit.SECONDS));
  }

  /**
   * Reads exactly {@code size} bytes: a short or long stream is refused before anything is sent.
   * Bodies up to the multipart threshold are held in memory; larger ones go in bounded parts.
   */
  private static byte[] readExactly(InputStream data, int size) {
    try {
      byte[] body = data.readNBytes(size);
      if (body.length < size) {
        throw new InvalidInputException(
            "size", "the stream ended after " + body.length + " of " + size + " bytes");
      }
      if (data.read() != -1) {
        throw new InvalidInputException("size", "the stream holds more than " + size + " bytes");
      }
      return body;
    } catch (IOException e) {
      throw new UncheckedIOException("reading the upload stream failed", e);
    }
  }

  /**
   * Parts of {@link #partSize}, one in memory at a time. The SHA-256 is computed as the parts go,
   * but S3 takes user metadata only when the upload starts, so it is returned and not recorded: a
   * later {@link S3BlobStore#stat} of a multipart object reports it unknown.
   */
  private BlobInfo multipart(
      BlobKey key, InputStream data, long size, BlobMetadata metadata, boolean createOnly) {
    String uploadId =
        requests
            .call(
                "start multipart upload of " + key,
                () ->
                    s3.createMultipartUpload(
                        r ->
                            r.bucket(bucket)
                                .key(requests.key(key))
                                .contentType(metadata.contentType())
                                .cacheControl(metadata.cacheControl())),
                true)
            .uploadId();
    MessageDigest sha = digest("SHA-256");
    MessageDigest partDigests = digest("MD5");
    try {
      List<CompletedPart> parts = new ArrayList<>();
      byte[] buffer = new byte[(int) partSize];
      long sent = 0;
      int number = 1;
      while (sent < size) {
        int length = (int) Math.min(partSize, size - sent);
        int filled = data.readNBytes(buffer, 0, length);
        if (filled < length) {
          throw new InvalidInputException(
              "size", "the stream ended after " + (sent + filled) + " of " + size + " bytes");
        }
        int partNumber = number++;
        byte[] part = java.util.Arrays.copyOf(buffer, length);
        sha.update(part);
        partDigests.update(digest("MD5").digest(part));
        String etag =
            requests
                .call(
                    "upload part " + partNumber + " of " + key,
                    () ->
                        s3.uploadPart(
                            r ->
                                r.bucket(bucket)
                                    .key(requests.key(key))
                                    .uploadId(uploadId)
                                    .partNumber(partNumber)
                                    .contentLength((long) length),
                            RequestBody.fromBytes(part)),
                    true)
                .eTag();
        parts.add(CompletedPart.builder().partNumber(partNumber).eTag(etag).build());
        sent += length;
      }
      if (data.read() != -1) {
        throw new InvalidInputException("size", "the stream holds more than " + size + " bytes");
      }
      // S3's ETag of a multipart object: the MD5 of the parts' MD5s, then "-<parts>".
      String expectedETag = HexFormat.of().formatHex(partDigests.digest()) + "-" + parts.size();
      try {
        requests.call(
            (createOnly ? "complete multipart create of " : "complete multipart upload of ") + key,
            () ->
                s3.completeMultipartUpload(
                    r -> {
                      r.bucket(bucket)
                          .key(requests.key(key))
                          .uploadId(uploadId)
                          .multipartUpload(CompletedMultipartUpload.builder().parts(parts).build());
                      if (createOnly) {
                        r.ifNoneMatch("*");
                      }
                    }),
            true,
            createOnly);
      } catch (PreconditionFailed e) {
        abort(key, uploadId);
        Optional<BlobInfo> there = e.retried ? objects.stat(key, true) : Optional.empty();
        if (there.isEmpty() || !expectedETag.equals(there.get().etag())) {
          throw new BlobExistsException(key);
        }
      } catch (NotFound noSuchUpload) {
        // The server no longer knows the upload. After a lost answer, the first completion may
        // have landed (MinIO and Ceph RGW forget a completed upload; AWS answers a repeat 200):
        // then the object there is this upload's, which its ETag shows.
        Optional<BlobInfo> there = objects.stat(key, true);
        if (there.isEmpty() || !expectedETag.equals(there.get().etag())) {
          throw new TransientStoreException(
              "complete multipart upload of "
                  + key
                  + " in bucket '"
                  + bucket
                  + "': the server no longer knows the upload (aborted meanwhile, e.g. by a"
                  + " lifecycle rule for incomplete uploads, or by another client); send the file"
                  + " again");
        }
      }
    } catch (IOException e) {
      abort(key, uploadId);
      throw new UncheckedIOException("reading the upload of " + key + " failed", e);
    } catch (RuntimeException e) {
      if (!(e instanceof BlobExistsException)) {
        abort(key, uploadId);
      }
      throw e;
    }
    BlobInfo stored =
        objects
            .stat(key, true)
            .orElseThrow(() -> new DurableDeployException("stored " + key + " but cannot see it"));
    return new BlobInfo(
        key,
        stored.size(),
        stored.metadata(),
        stored.lastModified(),
        stored.etag(),
        HexFormat.of().formatHex(sha.digest()));
  }

  private static MessageDigest digest(String algorithm) {
    try {
      return MessageDigest.getInstance(algorithm);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JDK has " + algorithm, e);
    }
  }

  private void abort(BlobKey key, String uploadId) {
    try {
      requests.call(
          "abort multipart upload of " + key,
          () ->
              s3.abortMultipartUpload(
                  r -> r.bucket(bucket).key(requests.key(key)).uploadId(uploadId)),
          true);
    } catch (RuntimeException e) {
      // A lifecycle rule for incomplete multipart uploads cleans what this could not.
    }
  }
}
