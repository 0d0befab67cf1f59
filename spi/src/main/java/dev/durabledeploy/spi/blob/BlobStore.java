package dev.durabledeploy.spi.blob;

import dev.durabledeploy.spi.health.Health;
import dev.durabledeploy.spi.lock.Fence;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * Where deploy bytes, markers and trash live (the authoritative store for them). Keys are validated
 * values, so an implementation can never be asked to touch anything outside its root.
 *
 * <p>Failures: transient backend trouble surfaces as {@link
 * dev.durabledeploy.spi.exception.TransientStoreException} (or a transient {@link
 * dev.durabledeploy.spi.exception.RemoteCallException}); everything else as a permanent {@link
 * dev.durabledeploy.spi.exception.DurableDeployException}. Implementations are thread-safe.
 */
public interface BlobStore extends AutoCloseable {

  /**
   * Stores exactly {@code size} bytes read from {@code data} under {@code key}, replacing any
   * object there. Atomic: a reader sees the old object, the new one or nothing, never a part. If
   * the stream holds fewer or more than {@code size} bytes nothing is stored and {@link
   * dev.durabledeploy.spi.exception.InvalidInputException} (field {@code size}) is thrown. The
   * stream is not closed. The SHA-256 is computed and recorded as for {@link #create}.
   */
  BlobInfo put(BlobKey key, InputStream data, long size, BlobMetadata metadata);

  /**
   * Stores exactly {@code size} bytes read from {@code data} under {@code key} only if no object is
   * there: a create-only write. Atomic against every other writer of the key, in every process:
   * when several creators race for one key exactly one succeeds, the object holds its bytes, and
   * every other gets {@link BlobExistsException} without having changed anything. A {@link #put}
   * may still replace the object afterwards. Size rules as for {@link #put}; the stream may have
   * been read when the create is refused. The stream is not closed.
   *
   * <p>The store computes the SHA-256 of the bytes as it stores them and returns it in {@link
   * BlobInfo#sha256()}, and records it with the object where it can, so a later {@link #stat}
   * reports it.
   *
   * <p>Stores that cannot honour this answer {@code false} from {@link #supportsCreate()} and throw
   * {@link UnsupportedOperationException} here before reading {@code data}; the default does
   * exactly that, so a store written against an older version of this interface keeps compiling and
   * the library falls back to writing under the site lock for it.
   *
   * @throws BlobExistsException when an object exists under {@code key}
   */
  default BlobInfo create(BlobKey key, InputStream data, long size, BlobMetadata metadata) {
    throw new UnsupportedOperationException(
        getClass().getName()
            + " does not implement create-only writes (BlobStore.create/supportsCreate)");
  }

  /** Whether {@link #create} is implemented. The default is {@code false}. */
  default boolean supportsCreate() {
    return false;
  }

  /** Opens the object, or empty when there is none. The caller closes the content. */
  Optional<BlobContent> get(BlobKey key);

  /** The object's info without its bytes, or empty when there is none. */
  Optional<BlobInfo> stat(BlobKey key);

  /**
   * Up to {@code limit} objects under {@code prefix} whose keys sort after {@code startAfter}
   * (null: from the start), in {@link BlobKey#UTF8_ORDER}. Paging is stable: walking pages with
   * {@link BlobPage#next()} yields every object present for the whole walk exactly once. Items may
   * lack metadata (see {@link BlobInfo#metadata()}). An object whose key is not a valid {@link
   * BlobKey} (written by something else: a console folder object {@code a/b/}, {@code a//b}, a
   * control character) is never an item and never an error: it is reported in {@link
   * BlobPage#foreign()}, which may make a page hold fewer than {@code limit} items although more
   * follow.
   *
   * @param limit 1 to 1,000
   */
  BlobPage list(BlobPrefix prefix, BlobKey startAfter, int limit);

  /** Removes the object; a missing object is a no-op (docs/invariants.md V9). */
  void delete(BlobKey key);

  /**
   * Removes every object under {@code prefix}, foreign ones ({@link ForeignBlob}) included, and
   * returns how many were removed. Idempotent: a gone prefix is a no-op returning 0.
   */
  long deletePrefix(BlobPrefix prefix);

  /**
   * {@link #deletePrefix(BlobPrefix)}, checking {@code fence} before each object's delete (or
   * before each request, for a store that deletes a batch of objects in one request): when the
   * check throws, nothing more is deleted and its exception propagates unchanged; the objects
   * deleted so far stay deleted, and running the call again finishes it (V9). The library passes
   * its site lock's check here, so a saga that lost its lock mid-prefix stops at the next object.
   *
   * <p>The default checks once, before it starts, and then calls {@link #deletePrefix(BlobPrefix)}:
   * a store (or a decorator) that does not override this is fenced per prefix only. The library's
   * stores check per object (the filesystem and in-memory stores) or per delete request (S3).
   */
  default long deletePrefix(BlobPrefix prefix, Fence fence) {
    Objects.requireNonNull(fence, "fence");
    fence.check();
    return deletePrefix(prefix);
  }

  /**
   * Moves every object under {@code from} to the same relative key under {@code to} (copy, then
   * delete the source) and returns how many objects were moved. Idempotent (V9): re-run after a
   * crash at any point it finishes the move; a gone source is a no-op returning 0. Objects already
   * at the destination are overwritten by the source's. Foreign objects ({@link ForeignBlob}) move
   * too, to the same raw relative key, so a prefix moves whole. The prefixes must not overlap
   * ({@link dev.durabledeploy.spi.exception.InvalidInputException}, field {@code to}).
   */
  long movePrefix(BlobPrefix from, BlobPrefix to);

  /**
   * {@link #movePrefix(BlobPrefix, BlobPrefix)}, checking {@code fence} before each object's copy
   * and before each delete of a source (or each request that deletes several): when the check
   * throws, nothing more is copied or deleted and its exception propagates unchanged. Every object
   * is then at its source, at its destination, or at both; none is lost, and running the move again
   * finishes it (V9). The library passes its site lock's check here, so a delete or restore whose
   * lock expired mid-move (a pause, a cut-off host) stops at the next object instead of moving the
   * files of a deploy that another host restored meanwhile.
   *
   * <p>The default checks once, before it starts, and then calls {@link #movePrefix(BlobPrefix,
   * BlobPrefix)}: a store (or a decorator) that does not override this is fenced per prefix only.
   * The library's stores check per object.
   */
  default long movePrefix(BlobPrefix from, BlobPrefix to, Fence fence) {
    Objects.requireNonNull(fence, "fence");
    fence.check();
    return movePrefix(from, to);
  }

  /**
   * Every object under {@code prefix}, paging through {@link #list} in pages of 1,000; foreign
   * objects are left out (walk {@link #list} to see them).
   */
  default List<BlobInfo> listAll(BlobPrefix prefix) {
    List<BlobInfo> all = new ArrayList<>();
    BlobKey after = null;
    do {
      BlobPage page = list(prefix, after, 1000);
      all.addAll(page.items());
      after = page.next();
    } while (after != null);
    return all;
  }

  /** Releases connections; the default does nothing. */
  @Override
  default void close() {}

  /**
   * What the blob store reports about itself (see {@link Health}), such as free space. The plane
   * bounds the call in time. The default lists one key under the root ({@link #list}): a round trip
   * and nothing more.
   */
  default Health health() {
    list(BlobPrefix.ROOT, null, 1);
    return Health.up();
  }
}
