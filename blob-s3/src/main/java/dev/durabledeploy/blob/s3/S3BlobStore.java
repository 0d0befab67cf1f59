package dev.durabledeploy.blob.s3;

import dev.durabledeploy.spi.Inputs;
import dev.durabledeploy.spi.blob.BlobContent;
import dev.durabledeploy.spi.blob.BlobExistsException;
import dev.durabledeploy.spi.blob.BlobInfo;
import dev.durabledeploy.spi.blob.BlobKey;
import dev.durabledeploy.spi.blob.BlobMetadata;
import dev.durabledeploy.spi.blob.BlobPage;
import dev.durabledeploy.spi.blob.BlobPrefix;
import dev.durabledeploy.spi.blob.BlobStore;
import dev.durabledeploy.spi.blob.ForeignBlob;
import dev.durabledeploy.spi.exception.ConfigurationException;
import dev.durabledeploy.spi.exception.DurableDeployException;
import dev.durabledeploy.spi.exception.InvalidInputException;
import dev.durabledeploy.spi.exception.RemoteCallException;
import dev.durabledeploy.spi.exception.TransientStoreException;
import dev.durabledeploy.spi.lock.Fence;
import dev.durabledeploy.spi.retry.RetryPolicy;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import java.util.random.RandomGenerator;
import java.util.regex.Pattern;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.core.ResponseInputStream;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.core.interceptor.ExecutionInterceptor;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.S3ClientBuilder;
import software.amazon.awssdk.services.s3.model.CompletedMultipartUpload;
import software.amazon.awssdk.services.s3.model.CompletedPart;
import software.amazon.awssdk.services.s3.model.DeleteObjectsResponse;
import software.amazon.awssdk.services.s3.model.EncodingType;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;
import software.amazon.awssdk.services.s3.model.HeadObjectResponse;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Response;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import software.amazon.awssdk.services.s3.model.ObjectIdentifier;
import software.amazon.awssdk.services.s3.model.S3Exception;
import software.amazon.awssdk.services.s3.model.S3Object;

/**
 * The blob store on any S3 API: AWS, Cloudflare R2, MinIO, Ceph RGW.
 *
 * <pre>{@code
 * S3BlobStore blobs = S3BlobStore.builder()
 *     .bucket("my-deploys").region("eu-west-1")     // AWS, default credential chain
 *     .build();
 * S3BlobStore minio = S3BlobStore.builder()
 *     .bucket("deploys").endpoint(URI.create("http://minio:9000")).pathStyle(true)
 *     .credentials(StaticCredentialsProvider.create(AwsBasicCredentials.create(key, secret)))
 *     .build();
 * }</pre>
 *
 * <p>Listings are {@code ListObjectsV2} pages, in S3's UTF-8 order; they do not carry content type
 * or cache control (their {@link BlobInfo#metadata()} is null; {@link #stat} has it). Deleting a
 * prefix uses {@code DeleteObjects} in batches of 1,000 and reports keys S3 refused. Moving a
 * prefix copies server-side, confirms each destination (a HEAD: size and ETag), then deletes the
 * confirmed sources, page by page, so a re-run after a crash finishes it (V9) and no source is
 * deleted before its copy is seen; objects over 5 GiB cannot be moved. An upload is read into
 * memory up to the multipart threshold (16 MiB) and streamed in parts above it, never holding more
 * than one part in memory. Objects up to the threshold carry the SHA-256 of their bytes as user
 * metadata {@code x-amz-meta-sha256}, which a server-side copy keeps; {@link #create} is a
 * conditional write ({@code If-None-Match: *}, which needs a server with conditional writes). ETags
 * are reported without their quotes. A plain server-side copy gives an object stored in parts a new
 * ETag, so a move copies such an object part by part on its original part boundaries, which keeps
 * its ETag (the boundaries are the source's own part size, asked of its first part, so objects
 * other clients wrote in parts keep theirs too; one whose parts differ in size but for the last is
 * copied on wrong boundaries, and re-tagged).
 *
 * <p>Each request is sent once and a throttling, 5xx or network failure fails the call at once
 * ({@link RemoteCallException} with the status, or {@link TransientStoreException}, both transient
 * to the {@link RetryPolicy}, naming the request and the bucket), because the caller retries the
 * whole call: the core runs its blob calls (stats, gets, lists, puts, deletes, moves) under the
 * library's retry policy. The exceptions are the requests of an upload, which its caller cannot
 * repeat once the store has read its stream: the parts, start, completion and abort of a multipart
 * upload, a {@link #create} and the HEAD that confirms it, retried here with the builder's {@link
 * Builder#retryPolicy} ({@link #retryCount()} counts them); and the check of the bucket at {@link
 * Builder#build()}. The SDK's own retries are off, so there is one policy. 403 and other 4xx fail
 * at once. No message ever contains a credential.
 */
public final class S3BlobStore implements BlobStore {

  public static final String DEFAULT_REGION = "us-east-1";
  public static final long DEFAULT_MULTIPART_THRESHOLD = 16L * 1024 * 1024;
  public static final long DEFAULT_PART_SIZE = 8L * 1024 * 1024;

  /** S3 allows 1,000 keys per DeleteObjects request. */
  public static final int DELETE_BATCH = 1000;

  private static final Pattern BUCKET = Pattern.compile("(?=.{3,63}$)[a-z0-9][a-z0-9.-]*[a-z0-9]");

  /** The user metadata ({@code x-amz-meta-sha256}) holding the SHA-256 of an object's bytes. */
  public static final String SHA256_METADATA = "sha256";

  private static final Pattern SHA256_HEX = Pattern.compile("[0-9a-f]{64}");

  private final S3Client s3;
  private final boolean ownsClient;
  private final String bucket;
  private final String keyPrefix;
  private final RetryPolicy retryPolicy;
  private final RandomGenerator random;
  private final long multipartThreshold;
  private final long partSize;
  private final AtomicLong retries = new AtomicLong();

  private S3BlobStore(Builder b, S3Client s3, boolean ownsClient) {
    this.s3 = s3;
    this.ownsClient = ownsClient;
    this.bucket = b.bucket;
    this.keyPrefix = b.keyPrefix.value();
    this.retryPolicy = b.retryPolicy;
    this.random = b.random;
    this.multipartThreshold = b.multipartThreshold;
    this.partSize = b.partSize;
  }

  public static Builder builder() {
    return new Builder();
  }

  /**
   * Retries this store made itself so far, each counted once: only requests of an upload, whose
   * stream its caller cannot send again (see the class description).
   */
  public long retryCount() {
    return retries.get();
  }

  private String key(BlobKey key) {
    return keyPrefix + key.value();
  }

  private String key(BlobPrefix prefix) {
    return keyPrefix + prefix.value();
  }

  // ---- objects -------------------------------------------------------------------------------

  @Override
  public BlobInfo put(BlobKey key, InputStream data, long size, BlobMetadata metadata) {
    return write(key, data, size, metadata, false);
  }

  /**
   * Create-only: {@code PutObject} (or, above the multipart threshold, {@code
   * CompleteMultipartUpload}) with {@code If-None-Match: *}, which S3 resolves atomically: one of
   * racing creators gets 200, every other 412 and {@link BlobExistsException}. A server that
   * answers 501 (it has no conditional writes) fails the call with what to check; the library never
   * falls back to an unconditional write. A retried create that meets 412 checks whether the object
   * there is its own earlier attempt (same size and SHA-256, or the same multipart ETag), so a lost
   * response does not turn a success into a refusal.
   */
  @Override
  public BlobInfo create(BlobKey key, InputStream data, long size, BlobMetadata metadata) {
    return write(key, data, size, metadata, true);
  }

  @Override
  public boolean supportsCreate() {
    return true;
  }

  private BlobInfo write(
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
    try {
      call(
          (createOnly ? "create " : "put ") + key,
          () ->
              s3.putObject(
                  r -> {
                    r.bucket(bucket)
                        .key(key(key))
                        .contentType(metadata.contentType())
                        .cacheControl(metadata.cacheControl())
                        .metadata(Map.of(SHA256_METADATA, sha256))
                        .contentLength(size);
                    if (createOnly) {
                      r.ifNoneMatch("*");
                    }
                  },
                  RequestBody.fromBytes(body)),
          createOnly,
          createOnly);
    } catch (PreconditionFailed e) {
      Optional<BlobInfo> there = e.retried ? stat(key, true) : Optional.empty();
      if (there.isPresent() && there.get().size() == size && sha256.equals(there.get().sha256())) {
        return there.get();
      }
      throw new BlobExistsException(key);
    }
    return stat(key, createOnly)
        .orElseThrow(() -> new DurableDeployException("stored " + key + " but cannot see it"));
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
   * later {@link #stat} of a multipart object reports it unknown.
   */
  private BlobInfo multipart(
      BlobKey key, InputStream data, long size, BlobMetadata metadata, boolean createOnly) {
    String uploadId =
        call(
                "start multipart upload of " + key,
                () ->
                    s3.createMultipartUpload(
                        r ->
                            r.bucket(bucket)
                                .key(key(key))
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
            call(
                    "upload part " + partNumber + " of " + key,
                    () ->
                        s3.uploadPart(
                            r ->
                                r.bucket(bucket)
                                    .key(key(key))
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
        call(
            (createOnly ? "complete multipart create of " : "complete multipart upload of ") + key,
            () ->
                s3.completeMultipartUpload(
                    r -> {
                      r.bucket(bucket)
                          .key(key(key))
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
        Optional<BlobInfo> there = e.retried ? stat(key, true) : Optional.empty();
        if (there.isEmpty() || !expectedETag.equals(there.get().etag())) {
          throw new BlobExistsException(key);
        }
      } catch (NotFound noSuchUpload) {
        // The server no longer knows the upload. After a lost answer, the first completion may
        // have landed (MinIO and Ceph RGW forget a completed upload; AWS answers a repeat 200):
        // then the object there is this upload's, which its ETag shows.
        Optional<BlobInfo> there = stat(key, true);
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
        stat(key, true)
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
      call(
          "abort multipart upload of " + key,
          () -> s3.abortMultipartUpload(r -> r.bucket(bucket).key(key(key)).uploadId(uploadId)),
          true);
    } catch (RuntimeException e) {
      // A lifecycle rule for incomplete multipart uploads cleans what this could not.
    }
  }

  @Override
  public Optional<BlobContent> get(BlobKey key) {
    try {
      ResponseInputStream<GetObjectResponse> stream =
          call("get " + key, () -> s3.getObject(r -> r.bucket(bucket).key(key(key))), false);
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

  @Override
  public Optional<BlobInfo> stat(BlobKey key) {
    return stat(key, false);
  }

  /** With {@code retry}: the confirmation of an upload, which its caller cannot repeat. */
  private Optional<BlobInfo> stat(BlobKey key, boolean retry) {
    try {
      HeadObjectResponse r =
          call("stat " + key, () -> s3.headObject(h -> h.bucket(bucket).key(key(key))), retry);
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
  private static String etag(String quoted) {
    if (quoted == null || quoted.isEmpty()) {
      return null;
    }
    return quoted.length() >= 2 && quoted.startsWith("\"") && quoted.endsWith("\"")
        ? quoted.substring(1, quoted.length() - 1)
        : quoted;
  }

  /** The SHA-256 this store recorded, if the object has a well-formed one. */
  private static String sha256(Map<String, String> userMetadata) {
    String value = userMetadata == null ? null : userMetadata.get(SHA256_METADATA);
    return value != null && SHA256_HEX.matcher(value).matches() ? value : null;
  }

  private static BlobMetadata metadata(String contentType, String cacheControl) {
    return new BlobMetadata(
        contentType == null || contentType.isEmpty()
            ? BlobMetadata.DEFAULT_CONTENT_TYPE
            : contentType,
        cacheControl == null || cacheControl.isEmpty() ? null : cacheControl);
  }

  /**
   * A page of valid keys; keys that are not {@link BlobKey}s become {@link ForeignBlob}s. A raw
   * page that ends in foreign keys ends the page at its last valid key (the foreign ones come first
   * on the next page, so each is reported once); a raw page with no valid key at all is followed by
   * the next raw page, so every page either holds an item or is the last.
   */
  @Override
  public BlobPage list(BlobPrefix prefix, BlobKey startAfter, int limit) {
    Inputs.requireRange("limit", limit, 1, 1000);
    List<BlobInfo> items = new ArrayList<>();
    List<ForeignBlob> foreign = new ArrayList<>();
    String cursor = startAfter == null ? null : key(startAfter);
    while (true) {
      ListObjectsV2Response page = listRaw(key(prefix), cursor, limit);
      boolean truncated = Boolean.TRUE.equals(page.isTruncated()) && !page.contents().isEmpty();
      int foreignBeforeLastItem = foreign.size();
      for (S3Object o : page.contents()) {
        String relative = o.key().substring(keyPrefix.length());
        Optional<BlobKey> key = BlobKey.parse(relative);
        if (key.isPresent()) {
          items.add(
              new BlobInfo(key.get(), o.size(), null, o.lastModified(), etag(o.eTag()), null));
          foreignBeforeLastItem = foreign.size();
        } else {
          foreign.add(new ForeignBlob(relative, o.size(), o.lastModified()));
        }
      }
      if (!truncated) {
        return new BlobPage(items, null, foreign);
      }
      if (!items.isEmpty()) {
        return new BlobPage(
            items, items.get(items.size() - 1).key(), foreign.subList(0, foreignBeforeLastItem));
      }
      cursor = page.contents().get(page.contents().size() - 1).key();
    }
  }

  @Override
  public void delete(BlobKey key) {
    call("delete " + key, () -> s3.deleteObject(r -> r.bucket(bucket).key(key(key))), false);
  }

  @Override
  public long deletePrefix(BlobPrefix prefix) {
    return deletePrefix(prefix, Fence.NONE);
  }

  /** Checks {@code fence} before each DeleteObjects request (up to 1,000 objects each). */
  @Override
  public long deletePrefix(BlobPrefix prefix, Fence fence) {
    Objects.requireNonNull(fence, "fence");
    fence.check();
    long deleted = 0;
    String previousFirst = null;
    while (true) {
      List<S3Object> page = listRaw(key(prefix), null, DELETE_BATCH).contents();
      if (page.isEmpty()) {
        return deleted;
      }
      // Always the first page, so a key the server lists but does not delete would loop forever.
      String first = page.get(0).key();
      if (first.equals(previousFirst)) {
        throw new TransientStoreException(
            "deleting "
                + prefix
                + " in bucket '"
                + bucket
                + "': "
                + render(first)
                + " is still listed after it was deleted; run the purge again");
      }
      previousFirst = first;
      fence.check();
      deleted += deleteBatch(page.stream().map(S3Object::key).toList());
    }
  }

  /** One ListObjectsV2 request on raw S3 keys, whatever they hold. */
  private ListObjectsV2Response listRaw(String s3Prefix, String startAfter, int limit) {
    return call(
        "list " + Inputs.render(s3Prefix.substring(keyPrefix.length())),
        () ->
            s3.listObjectsV2(
                r ->
                    r.bucket(bucket)
                        .prefix(s3Prefix)
                        .startAfter(startAfter)
                        .maxKeys(limit)
                        // Keys URL-encoded in the XML answer (the SDK decodes them): XML 1.0
                        // cannot carry a control character, so without it one such key makes
                        // the whole page unreadable.
                        .encodingType(EncodingType.URL)),
        false);
  }

  /** One DeleteObjects request on raw S3 keys; refused keys fail the call with their codes. */
  private int deleteBatch(List<String> keys) {
    // A control character cannot travel in the XML of DeleteObjects (XML 1.0 has no way to
    // write it): such keys, foreign and rare, are deleted one by one, their key in the URL.
    List<String> s3Keys = new ArrayList<>();
    int single = 0;
    for (String k : keys) {
      if (k.chars().anyMatch(Character::isISOControl)) {
        call("delete " + render(k), () -> s3.deleteObject(r -> r.bucket(bucket).key(k)), false);
        single++;
      } else {
        s3Keys.add(k);
      }
    }
    if (s3Keys.isEmpty()) {
      return single;
    }
    List<ObjectIdentifier> ids =
        s3Keys.stream().map(k -> ObjectIdentifier.builder().key(k).build()).toList();
    DeleteObjectsResponse response =
        call(
            "delete " + s3Keys.size() + " objects",
            () -> s3.deleteObjects(r -> r.bucket(bucket).delete(d -> d.objects(ids).quiet(true))),
            false);
    if (response.hasErrors() && !response.errors().isEmpty()) {
      List<String> refused =
          response.errors().stream()
              .limit(10)
              .map(e -> render(e.key()) + " (" + e.code() + ")")
              .toList();
      throw new DurableDeployException(
          "S3 refused to delete "
              + response.errors().size()
              + " of "
              + s3Keys.size()
              + " objects, e.g. "
              + refused);
    }
    return single + s3Keys.size();
  }

  /** A raw S3 key for a message: without the store's key prefix, quoted, control bytes escaped. */
  private String render(String s3Key) {
    return ForeignBlob.render(
        s3Key.startsWith(keyPrefix) ? s3Key.substring(keyPrefix.length()) : s3Key);
  }

  /**
   * Copies every object, then deletes only the sources whose destination is confirmed: present, of
   * the source's size, with the ETag the copy reported (or the source's). The copy is conditional
   * on the ETag the listing showed ({@code x-amz-copy-source-if-match}), so what is confirmed is a
   * copy of the very object that is deleted. A source is never deleted because a copy answered 404:
   * that answer means "gone" only when a HEAD of the source agrees (a concurrent run of the same
   * move finished it); when the source is still there the 404 was wrong, and the source is kept.
   * Every object that could not be confirmed stays at its source, and the move then fails with a
   * transient error naming them, after the confirmed ones were deleted, so a re-run (the core's
   * retry) carries on from there.
   */
  @Override
  public long movePrefix(BlobPrefix from, BlobPrefix to) {
    return movePrefix(from, to, Fence.NONE);
  }

  /**
   * {@link #movePrefix(BlobPrefix, BlobPrefix)}, checking {@code fence} before each object's copy
   * and before each DeleteObjects request of confirmed sources.
   */
  @Override
  public long movePrefix(BlobPrefix from, BlobPrefix to, Fence fence) {
    Objects.requireNonNull(fence, "fence");
    fence.check();
    if (from.overlaps(to)) {
      throw new InvalidInputException(
          "to", "'" + to + "' overlaps the source prefix '" + from + "'");
    }
    String source = key(from);
    String target = key(to);
    long moved = 0;
    Set<String> gone = Set.of();
    while (true) {
      // Always the first page: every round deletes what it confirmed, so the source shrinks.
      List<S3Object> page = listRaw(source, null, DELETE_BATCH).contents();
      if (page.isEmpty()) {
        return moved;
      }
      List<String> confirmed = new ArrayList<>();
      List<String> kept = new ArrayList<>();
      Set<String> goneNow = new HashSet<>();
      for (S3Object o : page) {
        if (gone.contains(o.key())) {
          kept.add(render(o.key()) + " (listed again after its copy and a HEAD answered 404)");
          continue;
        }
        String destination = target + o.key().substring(source.length());
        fence.check();
        String unconfirmed = copyConfirmed(o, destination);
        if (unconfirmed == null) {
          confirmed.add(o.key());
        } else if (unconfirmed.equals(SOURCE_GONE)) {
          goneNow.add(o.key());
        } else {
          kept.add(render(o.key()) + " (" + unconfirmed + ")");
        }
      }
      if (!confirmed.isEmpty()) {
        fence.check();
      }
      moved += deleteBatch(confirmed);
      if (!kept.isEmpty()) {
        throw new TransientStoreException(
            "moving "
                + from
                + " to "
                + to
                + " in bucket '"
                + bucket
                + "': "
                + kept.size()
                + " objects are not confirmed at the destination and were kept at the source, e.g. "
                + kept.stream().limit(5).toList()
                + "; run the move again");
      }
      gone = goneNow;
    }
  }

  private static final String SOURCE_GONE = "the source is gone";

  /**
   * Copies one object and confirms its destination; returns null when confirmed, {@link
   * #SOURCE_GONE} when the source no longer exists, or why the copy is not confirmed.
   */
  private String copyConfirmed(S3Object o, String destination) {
    String copied;
    try {
      int parts = partsOf(o);
      long size = parts > 0 ? partSizeOf(o, parts) : 0;
      copied =
          size > 0
              ? copyInParts(o, destination, parts, size)
              : call(
                      "copy " + render(o.key()),
                      () ->
                          s3.copyObject(
                              r ->
                                  r.sourceBucket(bucket)
                                      .sourceKey(o.key())
                                      .copySourceIfMatch(o.eTag())
                                      .destinationBucket(bucket)
                                      .destinationKey(destination)),
                      false)
                  .copyObjectResult()
                  .eTag();
    } catch (NotFound notFound) {
      return head(o.key()).isPresent()
          ? "the copy answered 404 although the source exists"
          : SOURCE_GONE;
    } catch (RemoteCallException e) {
      if (e.statusCode() == 412) {
        return "the source changed after it was listed";
      }
      throw e;
    }
    Optional<HeadObjectResponse> written = head(destination);
    if (written.isEmpty()) {
      return "the destination is missing after the copy";
    }
    // Both are boxed Longs: compared by value, not by reference (which holds only up to 127).
    if (!Objects.equals(written.get().contentLength(), o.size())) {
      return "the destination holds "
          + written.get().contentLength()
          + " bytes, the source "
          + o.size();
    }
    // The copy's ETag is what was written; the listed one is the source's, which a copy keeps
    // unless the bucket's encryption gives every object its own (SSE-KMS). A server that reports
    // no ETag at all leaves the size as the only check.
    String eTag = written.get().eTag();
    boolean eTagKnown = copied != null || o.eTag() != null;
    if (eTagKnown && !sameETag(eTag, copied) && !sameETag(eTag, o.eTag())) {
      return "the destination's ETag differs from the copy's";
    }
    return null;
  }

  /** A multipart ETag: the MD5 of the parts' MD5s, then "-" and the number of parts. */
  private static final Pattern MULTIPART_ETAG = Pattern.compile("\"?[0-9a-fA-F]{32}-(\\d+)\"?");

  /**
   * The number of parts of an object stored in parts (from its ETag), or 0 for any other object.
   * Its ETag derives from those parts, so only a copy made of the same parts keeps it ({@link
   * #copyInParts}); a plain copy gives it a new one, which would look like changed bytes to whoever
   * compares ETags (the reconciler, against what finalize recorded).
   */
  private static int partsOf(S3Object o) {
    java.util.regex.Matcher m = o.eTag() == null ? null : MULTIPART_ETAG.matcher(o.eTag());
    if (m == null || !m.matches() || o.size() == null || o.size() == 0) {
      return 0;
    }
    long parts;
    try {
      parts = Long.parseLong(m.group(1));
    } catch (NumberFormatException tooMany) {
      return 0;
    }
    return parts >= 1 && parts <= 10_000 && parts <= o.size() ? (int) parts : 0;
  }

  /**
   * The size of every part but the last of an object stored in {@code parts} parts, or 0 when the
   * boundaries are not known. One part is the whole object. Otherwise the object's first part is
   * asked for ({@code HEAD ?partNumber=1}): it may have been written by another client with its own
   * part size (an {@code aws s3 cp}, a backfilled bucket), which clients keep the same for every
   * part but the last. A server that does not answer per part leaves this store's part size, when
   * the number of parts fits it.
   */
  private long partSizeOf(S3Object o, int parts) {
    if (parts == 1) {
      return o.size();
    }
    Long first = null;
    try {
      HeadObjectResponse part =
          call(
              "stat part 1 of " + render(o.key()),
              () -> s3.headObject(h -> h.bucket(bucket).key(o.key()).partNumber(1)),
              false);
      if (part.partsCount() != null && part.partsCount() == parts) {
        first = part.contentLength();
      }
    } catch (NotFound gone) {
      return 0;
    } catch (RemoteCallException notPerPart) {
      // Not answered per part (S3Proxy says 501): this store's own part size is the best guess.
      first = null;
    }
    long size = first != null && first > 0 ? first : partSize;
    // Uniform parts of that size, the last one shorter: exactly `parts` of them.
    return (parts - 1) * size < o.size() && parts * size >= o.size() ? size : 0;
  }

  /**
   * Copies an object stored in parts part by part ({@code UploadPartCopy}), on the same byte
   * ranges, so the copy's ETag is the source's; each part is conditional on the source's ETag. The
   * headers a plain copy keeps are carried over from a HEAD of the source: content type, cache
   * control, user metadata (the SHA-256), and the encoding, disposition, language and expiry that
   * other clients give objects (a pre-compressed asset without its Content-Encoding is garbage).
   * Returns the ETag the completed copy reported.
   */
  private String copyInParts(S3Object o, String destination, int parts, long partLength) {
    HeadObjectResponse source =
        call(
            "stat " + render(o.key()),
            () -> s3.headObject(h -> h.bucket(bucket).key(o.key()).ifMatch(o.eTag())),
            false);
    String uploadId =
        call(
                "start the copy of " + render(o.key()),
                () ->
                    s3.createMultipartUpload(
                        r ->
                            r.bucket(bucket)
                                .key(destination)
                                .contentType(source.contentType())
                                .cacheControl(source.cacheControl())
                                .contentEncoding(source.contentEncoding())
                                .contentDisposition(source.contentDisposition())
                                .contentLanguage(source.contentLanguage())
                                .expires(source.expires())
                                .metadata(source.metadata())),
                false)
            .uploadId();
    try {
      List<CompletedPart> copiedParts = new ArrayList<>();
      for (int i = 0; i < parts; i++) {
        int number = i + 1;
        long first = i * partLength;
        long last = Math.min(o.size(), first + partLength) - 1;
        String eTag =
            call(
                    "copy part " + number + " of " + render(o.key()),
                    () ->
                        s3.uploadPartCopy(
                            r ->
                                r.sourceBucket(bucket)
                                    .sourceKey(o.key())
                                    .copySourceIfMatch(o.eTag())
                                    .copySourceRange("bytes=" + first + "-" + last)
                                    .destinationBucket(bucket)
                                    .destinationKey(destination)
                                    .uploadId(uploadId)
                                    .partNumber(number)),
                    false)
                .copyPartResult()
                .eTag();
        copiedParts.add(CompletedPart.builder().partNumber(number).eTag(eTag).build());
      }
      return call(
              "complete the copy of " + render(o.key()),
              () ->
                  s3.completeMultipartUpload(
                      r ->
                          r.bucket(bucket)
                              .key(destination)
                              .uploadId(uploadId)
                              .multipartUpload(
                                  CompletedMultipartUpload.builder().parts(copiedParts).build())),
              false)
          .eTag();
    } catch (RuntimeException e) {
      try {
        s3.abortMultipartUpload(r -> r.bucket(bucket).key(destination).uploadId(uploadId));
      } catch (RuntimeException abortFailed) {
        e.addSuppressed(abortFailed);
      }
      throw e;
    }
  }

  private Optional<HeadObjectResponse> head(String s3Key) {
    try {
      return Optional.of(
          call(
              "stat " + render(s3Key),
              () -> s3.headObject(h -> h.bucket(bucket).key(s3Key)),
              false));
    } catch (NotFound e) {
      return Optional.empty();
    }
  }

  /** ETags compare without the quotes some servers put around them and some do not. */
  private static boolean sameETag(String a, String b) {
    return a != null && b != null && unquoted(a).equals(unquoted(b));
  }

  private static String unquoted(String eTag) {
    return eTag.length() >= 2 && eTag.startsWith("\"") && eTag.endsWith("\"")
        ? eTag.substring(1, eTag.length() - 1)
        : eTag;
  }

  @Override
  public void close() {
    if (ownsClient) {
      s3.close();
    }
  }

  // ---- calls and failures --------------------------------------------------------------------

  /** A 404 on an object: answered as "absent" by the caller. */
  private static final class NotFound extends RuntimeException {
    NotFound() {
      super(null, null, false, false);
    }
  }

  /** A 412 answer to a conditional write; {@code retried}: an earlier attempt may have landed. */
  private static final class PreconditionFailed extends RuntimeException {
    final boolean retried;

    PreconditionFailed(boolean retried) {
      super(null, null, false, false);
      this.retried = retried;
    }
  }

  private <T> T call(String what, Supplier<T> request, boolean retry) {
    return call(what, request, retry, false);
  }

  /**
   * Runs a request once, or with {@code retry} under the library's retry policy. Only the requests
   * of an upload are retried here, since their caller cannot send the stream again; every other
   * request fails at its first transient failure, for the caller's own retrier to decide (the
   * core's wraps each blob call in the same policy, so retrying here too multiplied the attempts).
   * With {@code conditional} (a write with {@code If-None-Match}): 412 is {@link
   * PreconditionFailed}, 501 a clear refusal, and 409 (S3's ConditionalRequestConflict: another
   * conditional write of the key is in flight) is retried.
   */
  private <T> T call(String what, Supplier<T> request, boolean retry, boolean conditional) {
    int attempt = 1;
    while (true) {
      try {
        return request.get();
      } catch (NoSuchKeyException e) {
        throw new NotFound();
      } catch (S3Exception e) {
        if (e.statusCode() == 404 && !"NoSuchBucket".equals(code(e))) {
          throw new NotFound();
        }
        if (conditional && e.statusCode() == 412) {
          throw new PreconditionFailed(attempt > 1);
        }
        if (conditional && e.statusCode() == 501) {
          throw new DurableDeployException(
              what
                  + " in bucket '"
                  + bucket
                  + "': the S3 server answered 501 Not Implemented to a conditional write"
                  + " (If-None-Match: *). Uploads need create-only writes: check that the server"
                  + " supports conditional writes (AWS S3 does; so do recent MinIO, Cloudflare R2"
                  + " and Ceph RGW releases) and that no proxy in front of it drops the header",
              e);
        }
        RemoteCallException mapped =
            new RemoteCallException(
                "s3",
                e.statusCode(),
                what
                    + " in bucket '"
                    + bucket
                    + "': "
                    + describe(e)
                    + (isTransient(e.statusCode())
                        ? "; throttled or unavailable, which should pass: check the request rate"
                            + " and the health of the S3 server"
                        : ""),
                e);
        boolean conflict = conditional && e.statusCode() == 409;
        boolean again =
            conflict
                ? attempt < retryPolicy.maxAttempts()
                : retryPolicy.shouldRetry(attempt, mapped);
        if (!retry || !again) {
          throw mapped;
        }
      } catch (SdkClientException e) {
        if (!retry || attempt >= retryPolicy.maxAttempts()) {
          throw new TransientStoreException(
              what
                  + " in bucket '"
                  + bucket
                  + "' failed: "
                  + Inputs.redactCredentials(e.getMessage())
                  + "; check the endpoint and network",
              e);
        }
      }
      Duration delay = retryPolicy.delayBefore(attempt, random);
      attempt++;
      retries.incrementAndGet();
      try {
        Thread.sleep(delay.toMillis());
      } catch (InterruptedException interrupted) {
        Thread.currentThread().interrupt();
        throw new TransientStoreException(what + " was interrupted", interrupted);
      }
    }
  }

  /** What {@link RemoteCallException#isTransient()} says of a status: 408, 429, 5xx. */
  private static boolean isTransient(int statusCode) {
    return statusCode == 408 || statusCode == 429 || statusCode >= 500;
  }

  private static String code(S3Exception e) {
    return e.awsErrorDetails() == null ? null : e.awsErrorDetails().errorCode();
  }

  private static String describe(S3Exception e) {
    String code = code(e);
    String message = e.awsErrorDetails() == null ? null : e.awsErrorDetails().errorMessage();
    return Inputs.redactCredentials(
        (code == null ? "" : code + ": ") + (message == null ? "" : message));
  }

  /** Configures an {@link S3BlobStore}; {@link #build()} validates and checks the bucket. */
  public static final class Builder {
    private String bucket;
    private BlobPrefix keyPrefix = BlobPrefix.ROOT;
    private String region = DEFAULT_REGION;
    private URI endpoint;
    private boolean pathStyle;
    private AwsCredentialsProvider credentials;
    private RetryPolicy retryPolicy = RetryPolicy.defaults();
    private RandomGenerator random = new SplittableRandom();
    private long multipartThreshold = DEFAULT_MULTIPART_THRESHOLD;
    private long partSize = DEFAULT_PART_SIZE;
    private S3Client client;
    private final List<ExecutionInterceptor> interceptors = new ArrayList<>();
    private boolean verifyBucket = true;
    private Boolean chunkedEncoding;

    private Builder() {}

    /** A DNS-valid bucket name (3 to 63 lowercase letters, digits, dots and hyphens). */
    public Builder bucket(String bucket) {
      this.bucket = bucket;
      return this;
    }

    /** Keys are stored under this prefix, so several planes can share a bucket. */
    public Builder keyPrefix(BlobPrefix keyPrefix) {
      this.keyPrefix = keyPrefix;
      return this;
    }

    public Builder region(String region) {
      this.region = region;
      return this;
    }

    /** For R2, MinIO, Ceph RGW or a test server. */
    public Builder endpoint(URI endpoint) {
      this.endpoint = endpoint;
      return this;
    }

    /** Path-style addressing ({@code host/bucket/key}), which MinIO and S3Proxy need. */
    public Builder pathStyle(boolean pathStyle) {
      this.pathStyle = pathStyle;
      return this;
    }

    /** Default: the SDK's default credential chain. */
    public Builder credentials(AwsCredentialsProvider credentials) {
      this.credentials = credentials;
      return this;
    }

    /**
     * The retries of an upload's requests and of the bucket check at {@link #build()}; every other
     * request is sent once, for the caller to retry (see {@link S3BlobStore}).
     */
    public Builder retryPolicy(RetryPolicy retryPolicy) {
      this.retryPolicy = retryPolicy;
      return this;
    }

    /** The jitter source of retries. */
    public Builder random(RandomGenerator random) {
      this.random = random;
      return this;
    }

    /** Uploads above this size go in parts of {@link #partSize}. */
    public Builder multipart(long threshold, long partSize) {
      this.multipartThreshold = threshold;
      this.partSize = partSize;
      return this;
    }

    /** Adds an SDK interceptor (metrics, request counting in tests). */
    public Builder interceptor(ExecutionInterceptor interceptor) {
      interceptors.add(interceptor);
      return this;
    }

    /** Uses the host's client as is (no interceptor, retry or endpoint setting applies to it). */
    public Builder client(S3Client client) {
      this.client = client;
      return this;
    }

    /**
     * Whether uploads use the SDK's aws-chunked payload signing. Default: on for AWS, off when an
     * {@link #endpoint} is set, because R2, S3Proxy and other S3-compatible servers refuse its
     * signatures (SignatureDoesNotMatch).
     */
    public Builder chunkedEncoding(boolean chunkedEncoding) {
      this.chunkedEncoding = chunkedEncoding;
      return this;
    }

    /** Whether {@link #build()} checks that the bucket exists and is reachable (default true). */
    public Builder verifyBucket(boolean verifyBucket) {
      this.verifyBucket = verifyBucket;
      return this;
    }

    public S3BlobStore build() {
      if (bucket == null || !BUCKET.matcher(bucket).matches() || bucket.contains("..")) {
        throw new ConfigurationException(
            "bucket", "must be a DNS-valid bucket name: 3-63 characters of a-z, 0-9, '.', '-'");
      }
      if (keyPrefix == null) {
        throw new ConfigurationException("keyPrefix", "is required (BlobPrefix.ROOT for none)");
      }
      if (partSize < 5L * 1024 * 1024 || multipartThreshold < partSize) {
        throw new ConfigurationException(
            "multipart", "parts must be at least 5 MiB and the threshold at least one part");
      }
      if (retryPolicy == null) {
        throw new ConfigurationException("retryPolicy", "is required");
      }
      boolean owns = client == null;
      S3Client s3 = owns ? newClient() : client;
      S3BlobStore store = new S3BlobStore(this, s3, owns);
      if (verifyBucket) {
        try {
          store.call("check", () -> s3.headBucket(r -> r.bucket(bucket)), true);
        } catch (RemoteCallException e) {
          store.close();
          throw new ConfigurationException(
              "bucket",
              switch (e.statusCode()) {
                case 404 -> "bucket '" + bucket + "' does not exist (check the name and region)";
                case 403 ->
                    "access to bucket '"
                        + bucket
                        + "' is denied (check the credentials and bucket policy)";
                case 301, 400 ->
                    "bucket '"
                        + bucket
                        + "' is in another region than '"
                        + region
                        + "' or needs path-style addressing";
                default -> "bucket '" + bucket + "' answered " + e.statusCode();
              },
              null);
        } catch (TransientStoreException | NotFound e) {
          store.close();
          throw new ConfigurationException(
              "endpoint",
              "cannot reach "
                  + (endpoint == null
                      ? "S3 in region " + region
                      : Inputs.redactCredentials(endpoint.toString()))
                  + " (check the endpoint, network and TLS settings)",
              null);
        }
      }
      return store;
    }

    private S3Client newClient() {
      S3ClientBuilder b =
          S3Client.builder()
              .region(Region.of(region))
              .forcePathStyle(pathStyle)
              .serviceConfiguration(
                  c ->
                      c.chunkedEncodingEnabled(
                          chunkedEncoding != null ? chunkedEncoding : endpoint == null))
              .credentialsProvider(
                  credentials == null ? DefaultCredentialsProvider.create() : credentials)
              .overrideConfiguration(
                  o -> {
                    // One retry policy, the library's, applied in S3BlobStore.call.
                    o.retryStrategy(r -> r.maxAttempts(1));
                    interceptors.forEach(o::addExecutionInterceptor);
                  });
      if (endpoint != null) {
        b.endpointOverride(endpoint);
      }
      return b.build();
    }
  }
}
