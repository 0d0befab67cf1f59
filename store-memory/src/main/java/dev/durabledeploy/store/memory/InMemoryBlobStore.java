package dev.durabledeploy.store.memory;

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
import dev.durabledeploy.spi.exception.InvalidInputException;
import dev.durabledeploy.spi.lock.Fence;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentNavigableMap;
import java.util.concurrent.ConcurrentSkipListMap;

/**
 * The reference blob store: objects in a sorted concurrent map, in S3's (UTF-8 byte) order. Every
 * object carries the SHA-256 of its bytes and an etag (their MD5, as S3 tags single-part objects),
 * in listings too; a create-only write is one {@code putIfAbsent} on the map. Like a bucket it can
 * also hold objects under keys the library would never write ({@link #putForeign}), which listings
 * report as {@link ForeignBlob}s and prefix deletes and moves treat as objects.
 */
public final class InMemoryBlobStore implements BlobStore {

  /** An object: {@code info} for a valid key, {@code foreign} (and no info) for any other. */
  private record StoredObject(byte[] bytes, BlobInfo info, ForeignBlob foreign) {

    StoredObject(byte[] bytes, BlobInfo info) {
      this(bytes, info, null);
    }
  }

  private final Clock clock;
  private final ConcurrentSkipListMap<String, StoredObject> objects =
      new ConcurrentSkipListMap<>(BlobKey.UTF8_ORDER);

  public InMemoryBlobStore(Clock clock) {
    this.clock = Objects.requireNonNull(clock, "clock");
  }

  public InMemoryBlobStore() {
    this(Clock.systemUTC());
  }

  @Override
  public BlobInfo put(BlobKey key, InputStream data, long size, BlobMetadata metadata) {
    StoredObject o = read(key, data, size, metadata);
    objects.put(key.value(), o);
    return o.info();
  }

  @Override
  public BlobInfo create(BlobKey key, InputStream data, long size, BlobMetadata metadata) {
    StoredObject o = read(key, data, size, metadata);
    if (objects.putIfAbsent(key.value(), o) != null) {
      throw new BlobExistsException(key);
    }
    return o.info();
  }

  @Override
  public boolean supportsCreate() {
    return true;
  }

  private StoredObject read(BlobKey key, InputStream data, long size, BlobMetadata metadata) {
    Objects.requireNonNull(key, "key");
    Objects.requireNonNull(data, "data");
    Objects.requireNonNull(metadata, "metadata");
    Inputs.requireRange("size", size, 0, Integer.MAX_VALUE - 8);
    byte[] bytes = readExactly(data, (int) size);
    BlobInfo info =
        new BlobInfo(
            key, size, metadata, clock.instant(), hex("MD5", bytes), hex("SHA-256", bytes));
    return new StoredObject(bytes, info);
  }

  private static String hex(String algorithm, byte[] bytes) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance(algorithm).digest(bytes));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JDK has " + algorithm, e);
    }
  }

  /**
   * Stores {@code bytes} under a raw key that need not be a valid {@link BlobKey}: a console's
   * folder object {@code a/b/}, {@code a//b}, a control character. This is what another writer of a
   * real bucket can do, for tests of how the library copes with what it did not write.
   */
  public void putForeign(String rawKey, byte[] bytes) {
    Objects.requireNonNull(rawKey, "rawKey");
    if (rawKey.isEmpty()) {
      throw new IllegalArgumentException("an object key is never empty");
    }
    objects.put(rawKey, foreign(rawKey, bytes.clone()));
  }

  private StoredObject foreign(String rawKey, byte[] bytes) {
    Optional<BlobKey> valid = BlobKey.parse(rawKey);
    return valid.isPresent()
        ? new StoredObject(
            bytes,
            new BlobInfo(
                valid.get(),
                bytes.length,
                BlobMetadata.binary(),
                clock.instant(),
                hex("MD5", bytes),
                hex("SHA-256", bytes)))
        : new StoredObject(bytes, null, new ForeignBlob(rawKey, bytes.length, clock.instant()));
  }

  /** Reads exactly {@code size} bytes or refuses, so a short or long stream stores nothing. */
  static byte[] readExactly(InputStream data, int size) {
    try {
      byte[] bytes = data.readNBytes(size);
      if (bytes.length < size) {
        throw new InvalidInputException(
            "size", "the stream ended after " + bytes.length + " of " + size + " bytes");
      }
      if (data.read() != -1) {
        throw new InvalidInputException("size", "the stream holds more than " + size + " bytes");
      }
      return bytes;
    } catch (IOException e) {
      throw new UncheckedIOException("reading the upload stream failed", e);
    }
  }

  @Override
  public Optional<BlobContent> get(BlobKey key) {
    StoredObject o = objects.get(key.value());
    return o == null
        ? Optional.empty()
        : Optional.of(new BlobContent(o.info(), new ByteArrayInputStream(o.bytes())));
  }

  @Override
  public Optional<BlobInfo> stat(BlobKey key) {
    return Optional.ofNullable(objects.get(key.value())).map(StoredObject::info);
  }

  @Override
  public BlobPage list(BlobPrefix prefix, BlobKey startAfter, int limit) {
    Objects.requireNonNull(prefix, "prefix");
    Inputs.requireRange("limit", limit, 1, 1000);
    ConcurrentNavigableMap<String, StoredObject> tail =
        startAfter != null && BlobKey.UTF8_ORDER.compare(startAfter.value(), prefix.value()) >= 0
            ? objects.tailMap(startAfter.value(), false)
            : objects.tailMap(prefix.value(), true);
    List<BlobInfo> items = new ArrayList<>();
    List<ForeignBlob> foreign = new ArrayList<>();
    boolean more = false;
    for (Map.Entry<String, StoredObject> e : tail.entrySet()) {
      if (!e.getKey().startsWith(prefix.value())) {
        break;
      }
      if (items.size() == limit) {
        more = true; // what follows, foreign or not, belongs to the next page
        break;
      }
      if (e.getValue().info() != null) {
        items.add(e.getValue().info());
      } else {
        foreign.add(e.getValue().foreign());
      }
    }
    return new BlobPage(items, more ? items.get(items.size() - 1).key() : null, foreign);
  }

  /** Every raw key under the prefix, foreign ones included, in order. */
  private List<String> rawKeys(BlobPrefix prefix) {
    List<String> keys = new ArrayList<>();
    for (String key : objects.tailMap(prefix.value(), true).keySet()) {
      if (!key.startsWith(prefix.value())) {
        break;
      }
      keys.add(key);
    }
    return keys;
  }

  @Override
  public void delete(BlobKey key) {
    objects.remove(key.value());
  }

  @Override
  public long deletePrefix(BlobPrefix prefix) {
    return deletePrefix(prefix, Fence.NONE);
  }

  /** Checks {@code fence} before each object it deletes. */
  @Override
  public long deletePrefix(BlobPrefix prefix, Fence fence) {
    Objects.requireNonNull(fence, "fence");
    fence.check();
    long count = 0;
    for (String key : rawKeys(prefix)) {
      fence.check();
      if (objects.remove(key) != null) {
        count++;
      }
    }
    return count;
  }

  @Override
  public long movePrefix(BlobPrefix from, BlobPrefix to) {
    return movePrefix(from, to, Fence.NONE);
  }

  /** Checks {@code fence} before each object's copy and before its source is deleted. */
  @Override
  public long movePrefix(BlobPrefix from, BlobPrefix to, Fence fence) {
    Objects.requireNonNull(fence, "fence");
    fence.check();
    Objects.requireNonNull(from, "from");
    Objects.requireNonNull(to, "to");
    if (from.overlaps(to)) {
      throw new InvalidInputException(
          "to", "'" + to + "' overlaps the source prefix '" + from + "'");
    }
    long count = 0;
    for (String key : rawKeys(from)) {
      StoredObject o = objects.get(key);
      if (o == null) {
        continue;
      }
      String target = to.value() + key.substring(from.value().length());
      fence.check();
      if (o.info() != null) {
        BlobKey moved = BlobKey.of(target);
        objects.put(
            target,
            new StoredObject(
                o.bytes(),
                new BlobInfo(
                    moved,
                    o.info().size(),
                    o.info().metadata(),
                    clock.instant(),
                    o.info().etag(),
                    o.info().sha256())));
      } else {
        objects.put(target, foreign(target, o.bytes()));
      }
      fence.check();
      objects.remove(key);
      count++;
    }
    return count;
  }

  /** How many objects are stored, for assertions. */
  public int size() {
    return objects.size();
  }
}
