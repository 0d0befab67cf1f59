package dev.durabledeploy.blob.s3;

import dev.durabledeploy.blob.s3.S3Requests.NotFound;
import dev.durabledeploy.spi.blob.BlobPrefix;
import dev.durabledeploy.spi.exception.InvalidInputException;
import dev.durabledeploy.spi.exception.RemoteCallException;
import dev.durabledeploy.spi.exception.TransientStoreException;
import dev.durabledeploy.spi.lock.Fence;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.CompletedMultipartUpload;
import software.amazon.awssdk.services.s3.model.CompletedPart;
import software.amazon.awssdk.services.s3.model.HeadObjectResponse;
import software.amazon.awssdk.services.s3.model.S3Object;

/**
 * The prefix moves of an {@link S3BlobStore}: copy server-side (part by part for an object stored
 * in parts, so it keeps its ETag), confirm each destination, then delete the confirmed sources.
 */
final class S3Moves {

  private final S3Requests requests;
  private final S3PrefixOps prefixes;
  private final S3Client s3;
  private final String bucket;
  private final long partSize;

  S3Moves(S3Requests requests, S3PrefixOps prefixes, long partSize) {
    this.requests = requests;
    this.prefixes = prefixes;
    this.s3 = requests.s3();
    this.bucket = requests.bucket();
    this.partSize = partSize;
  }

  long movePrefix(BlobPrefix from, BlobPrefix to, Fence fence) {
    Objects.requireNonNull(fence, "fence");
    fence.check();
    if (from.overlaps(to)) {
      throw new InvalidInputException(
          "to", "'" + to + "' overlaps the source prefix '" + from + "'");
    }
    String source = requests.key(from);
    String target = requests.key(to);
    long moved = 0;
    Set<String> gone = Set.of();
    while (true) {
      // Always the first page: every round deletes what it confirmed, so the source shrinks.
      List<S3Object> page = prefixes.listRaw(source, null, S3BlobStore.DELETE_BATCH).contents();
      if (page.isEmpty()) {
        return moved;
      }
      List<String> confirmed = new ArrayList<>();
      List<String> kept = new ArrayList<>();
      Set<String> goneNow = new HashSet<>();
      for (S3Object o : page) {
        if (gone.contains(o.key())) {
          kept.add(
              requests.render(o.key()) + " (listed again after its copy and a HEAD answered 404)");
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
          kept.add(requests.render(o.key()) + " (" + unconfirmed + ")");
        }
      }
      if (!confirmed.isEmpty()) {
        fence.check();
      }
      moved += prefixes.deleteBatch(confirmed);
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
              : requests
                  .call(
                      "copy " + requests.render(o.key()),
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
          requests.call(
              "stat part 1 of " + requests.render(o.key()),
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
        requests.call(
            "stat " + requests.render(o.key()),
            () -> s3.headObject(h -> h.bucket(bucket).key(o.key()).ifMatch(o.eTag())),
            false);
    String uploadId =
        requests
            .call(
                "start the copy of " + requests.render(o.key()),
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
            requests
                .call(
                    "copy part " + number + " of " + requests.render(o.key()),
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
      return requests
          .call(
              "complete the copy of " + requests.render(o.key()),
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
          requests.call(
              "stat " + requests.render(s3Key),
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
}
