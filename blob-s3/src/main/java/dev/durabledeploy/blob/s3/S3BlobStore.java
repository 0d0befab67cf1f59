package dev.durabledeploy.blob.s3;

import dev.durabledeploy.blob.s3.S3Requests.NotFound;
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
import dev.durabledeploy.spi.exception.RemoteCallException;
import dev.durabledeploy.spi.exception.TransientStoreException;
import dev.durabledeploy.spi.lock.Fence;
import dev.durabledeploy.spi.retry.RetryPolicy;
import java.io.InputStream;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.random.RandomGenerator;
import java.util.regex.Pattern;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.core.interceptor.ExecutionInterceptor;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.S3ClientBuilder;

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
 * conditional write ({@code If-None-Match: *}, which needs a server with conditional writes). A put
 * or create up to the threshold is one {@code PutObject}: what it returns (the ETag above all) is
 * read from the answer, not from a HEAD after it. ETags are reported without their quotes. A plain
 * server-side copy gives an object stored in parts a new ETag, so a move copies such an object part
 * by part on its original part boundaries, which keeps its ETag (the boundaries are the source's
 * own part size, asked of its first part, so objects other clients wrote in parts keep theirs too;
 * one whose parts differ in size but for the last is copied on wrong boundaries, and re-tagged).
 *
 * <p>Each request is sent once and a throttling, 5xx or network failure fails the call at once
 * ({@link RemoteCallException} with the status, or {@link TransientStoreException}, both transient
 * to the {@link RetryPolicy}, naming the request and the bucket), because the caller retries the
 * whole call: the core runs its blob calls (stats, gets, lists, puts, deletes, moves) under the
 * library's retry policy. The exceptions are the requests of an upload, which its caller cannot
 * repeat once the store has read its stream: the parts, start, completion and abort of a multipart
 * upload and the HEAD that confirms it, and a {@link #create}, retried here with the builder's
 * {@link Builder#retryPolicy} ({@link #retryCount()} counts them); and the check of the bucket at
 * {@link Builder#build()}. The SDK's own retries are off, so there is one policy. 403 and other 4xx
 * fail at once. No message ever contains a credential.
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

  // Each role is a package-private collaborator: the requests and their failures (S3Requests),
  // one object's reads (S3Objects), uploads (S3Uploads), listings and prefix deletes
  // (S3PrefixOps), and moves (S3Moves).
  private final S3Client s3;
  private final boolean ownsClient;
  private final S3Requests requests;
  private final S3Objects objects;
  private final S3Uploads uploads;
  private final S3PrefixOps prefixes;
  private final S3Moves moves;

  private S3BlobStore(Builder b, S3Client s3, boolean ownsClient) {
    this.s3 = s3;
    this.ownsClient = ownsClient;
    this.requests = new S3Requests(s3, b.bucket, b.keyPrefix.value(), b.retryPolicy, b.random);
    this.objects = new S3Objects(requests);
    this.uploads = new S3Uploads(requests, objects, b.multipartThreshold, b.partSize);
    this.prefixes = new S3PrefixOps(requests);
    this.moves = new S3Moves(requests, prefixes, b.partSize);
  }

  public static Builder builder() {
    return new Builder();
  }

  /**
   * Retries this store made itself so far, each counted once: only requests of an upload, whose
   * stream its caller cannot send again (see the class description).
   */
  public long retryCount() {
    return requests.retryCount();
  }

  // ---- objects -------------------------------------------------------------------------------

  @Override
  public BlobInfo put(BlobKey key, InputStream data, long size, BlobMetadata metadata) {
    return uploads.write(key, data, size, metadata, false);
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
    return uploads.write(key, data, size, metadata, true);
  }

  @Override
  public boolean supportsCreate() {
    return true;
  }

  @Override
  public Optional<BlobContent> get(BlobKey key) {
    return objects.get(key);
  }

  @Override
  public Optional<BlobInfo> stat(BlobKey key) {
    return objects.stat(key, false);
  }

  /**
   * A page of valid keys; keys that are not {@link BlobKey}s become {@link ForeignBlob}s. A raw
   * page that ends in foreign keys ends the page at its last valid key (the foreign ones come first
   * on the next page, so each is reported once); a raw page with no valid key at all is followed by
   * the next raw page, so every page either holds an item or is the last.
   */
  @Override
  public BlobPage list(BlobPrefix prefix, BlobKey startAfter, int limit) {
    return prefixes.list(prefix, startAfter, limit);
  }

  @Override
  public void delete(BlobKey key) {
    objects.delete(key);
  }

  @Override
  public long deletePrefix(BlobPrefix prefix) {
    return deletePrefix(prefix, Fence.NONE);
  }

  /** Checks {@code fence} before each DeleteObjects request (up to 1,000 objects each). */
  @Override
  public long deletePrefix(BlobPrefix prefix, Fence fence) {
    return prefixes.deletePrefix(prefix, fence);
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
    return moves.movePrefix(from, to, fence);
  }

  @Override
  public void close() {
    if (ownsClient) {
      s3.close();
    }
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
          store.requests.call("check", () -> s3.headBucket(r -> r.bucket(bucket)), true);
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
                    // One retry policy, the library's, applied in S3Requests.call.
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
