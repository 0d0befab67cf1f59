package dev.durabledeploy.blob.s3;

import dev.durabledeploy.spi.Inputs;
import dev.durabledeploy.spi.blob.BlobInfo;
import dev.durabledeploy.spi.blob.BlobKey;
import dev.durabledeploy.spi.blob.BlobPage;
import dev.durabledeploy.spi.blob.BlobPrefix;
import dev.durabledeploy.spi.blob.ForeignBlob;
import dev.durabledeploy.spi.exception.DurableDeployException;
import dev.durabledeploy.spi.exception.TransientStoreException;
import dev.durabledeploy.spi.lock.Fence;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.DeleteObjectsResponse;
import software.amazon.awssdk.services.s3.model.EncodingType;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Response;
import software.amazon.awssdk.services.s3.model.ObjectIdentifier;
import software.amazon.awssdk.services.s3.model.S3Object;

/**
 * The prefix operations of an {@link S3BlobStore}: pages of a listing ({@code ListObjectsV2}) and
 * deleting a prefix in {@code DeleteObjects} batches; {@link S3Moves} moves on the same requests.
 */
final class S3PrefixOps {

  private final S3Requests requests;
  private final S3Client s3;
  private final String bucket;
  private final String keyPrefix;

  S3PrefixOps(S3Requests requests) {
    this.requests = requests;
    this.s3 = requests.s3();
    this.bucket = requests.bucket();
    this.keyPrefix = requests.keyPrefix();
  }

  BlobPage list(BlobPrefix prefix, BlobKey startAfter, int limit) {
    Inputs.requireRange("limit", limit, 1, 1000);
    List<BlobInfo> items = new ArrayList<>();
    List<ForeignBlob> foreign = new ArrayList<>();
    String cursor = startAfter == null ? null : requests.key(startAfter);
    while (true) {
      ListObjectsV2Response page = listRaw(requests.key(prefix), cursor, limit);
      boolean truncated = Boolean.TRUE.equals(page.isTruncated()) && !page.contents().isEmpty();
      int foreignBeforeLastItem = foreign.size();
      for (S3Object o : page.contents()) {
        String relative = o.key().substring(keyPrefix.length());
        Optional<BlobKey> key = BlobKey.parse(relative);
        if (key.isPresent()) {
          items.add(
              new BlobInfo(
                  key.get(), o.size(), null, o.lastModified(), S3Objects.etag(o.eTag()), null));
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

  long deletePrefix(BlobPrefix prefix, Fence fence) {
    Objects.requireNonNull(fence, "fence");
    fence.check();
    long deleted = 0;
    String previousFirst = null;
    while (true) {
      List<S3Object> page =
          listRaw(requests.key(prefix), null, S3BlobStore.DELETE_BATCH).contents();
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
                + requests.render(first)
                + " is still listed after it was deleted; run the purge again");
      }
      previousFirst = first;
      fence.check();
      deleted += deleteBatch(page.stream().map(S3Object::key).toList());
    }
  }

  /** One ListObjectsV2 request on raw S3 keys, whatever they hold. */
  ListObjectsV2Response listRaw(String s3Prefix, String startAfter, int limit) {
    return requests.call(
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
  int deleteBatch(List<String> keys) {
    // A control character cannot travel in the XML of DeleteObjects (XML 1.0 has no way to
    // write it): such keys, foreign and rare, are deleted one by one, their key in the URL.
    List<String> s3Keys = new ArrayList<>();
    int single = 0;
    for (String k : keys) {
      if (k.chars().anyMatch(Character::isISOControl)) {
        requests.call(
            "delete " + requests.render(k),
            () -> s3.deleteObject(r -> r.bucket(bucket).key(k)),
            false);
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
        requests.call(
            "delete " + s3Keys.size() + " objects",
            () -> s3.deleteObjects(r -> r.bucket(bucket).delete(d -> d.objects(ids).quiet(true))),
            false);
    if (response.hasErrors() && !response.errors().isEmpty()) {
      List<String> refused =
          response.errors().stream()
              .limit(10)
              .map(e -> requests.render(e.key()) + " (" + e.code() + ")")
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
}
