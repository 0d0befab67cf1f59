package dev.durabledeploy.blob.s3;

import dev.durabledeploy.spi.Inputs;
import dev.durabledeploy.spi.blob.BlobKey;
import dev.durabledeploy.spi.blob.BlobPrefix;
import dev.durabledeploy.spi.blob.ForeignBlob;
import dev.durabledeploy.spi.exception.DurableDeployException;
import dev.durabledeploy.spi.exception.RemoteCallException;
import dev.durabledeploy.spi.exception.TransientStoreException;
import dev.durabledeploy.spi.retry.RetryPolicy;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import java.util.random.RandomGenerator;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import software.amazon.awssdk.services.s3.model.S3Exception;

/**
 * The requests of an {@link S3BlobStore}: its client, bucket and key prefix, and {@link #call},
 * which sends a request once or under the retry policy and maps S3's failures to the library's
 * exceptions (see the store's class description).
 */
final class S3Requests {

  private final S3Client s3;
  private final String bucket;
  private final String keyPrefix;
  private final RetryPolicy retryPolicy;
  private final RandomGenerator random;
  private final AtomicLong retries = new AtomicLong();

  S3Requests(
      S3Client s3,
      String bucket,
      String keyPrefix,
      RetryPolicy retryPolicy,
      RandomGenerator random) {
    this.s3 = s3;
    this.bucket = bucket;
    this.keyPrefix = keyPrefix;
    this.retryPolicy = retryPolicy;
    this.random = random;
  }

  S3Client s3() {
    return s3;
  }

  String bucket() {
    return bucket;
  }

  String keyPrefix() {
    return keyPrefix;
  }

  long retryCount() {
    return retries.get();
  }

  String key(BlobKey key) {
    return keyPrefix + key.value();
  }

  String key(BlobPrefix prefix) {
    return keyPrefix + prefix.value();
  }

  /** A raw S3 key for a message: without the store's key prefix, quoted, control bytes escaped. */
  String render(String s3Key) {
    return ForeignBlob.render(
        s3Key.startsWith(keyPrefix) ? s3Key.substring(keyPrefix.length()) : s3Key);
  }

  /** A 404 on an object: answered as "absent" by the caller. */
  static final class NotFound extends RuntimeException {
    NotFound() {
      super(null, null, false, false);
    }
  }

  /** A 412 answer to a conditional write; {@code retried}: an earlier attempt may have landed. */
  static final class PreconditionFailed extends RuntimeException {
    final boolean retried;

    PreconditionFailed(boolean retried) {
      super(null, null, false, false);
      this.retried = retried;
    }
  }

  <T> T call(String what, Supplier<T> request, boolean retry) {
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
  <T> T call(String what, Supplier<T> request, boolean retry, boolean conditional) {
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
}
