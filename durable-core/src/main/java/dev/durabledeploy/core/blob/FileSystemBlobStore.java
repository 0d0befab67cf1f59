package dev.durabledeploy.core.blob;

import dev.durabledeploy.spi.ConfigurationException;
import dev.durabledeploy.spi.Inputs;
import dev.durabledeploy.spi.InvalidInputException;
import dev.durabledeploy.spi.blob.BlobContent;
import dev.durabledeploy.spi.blob.BlobExistsException;
import dev.durabledeploy.spi.blob.BlobInfo;
import dev.durabledeploy.spi.blob.BlobKey;
import dev.durabledeploy.spi.blob.BlobMetadata;
import dev.durabledeploy.spi.blob.BlobPage;
import dev.durabledeploy.spi.blob.BlobPrefix;
import dev.durabledeploy.spi.blob.BlobStore;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.stream.Stream;

/**
 * The embedded default blob store: one file per object under {@code <root>/objects/}, written to
 * {@code <root>/tmp/} and renamed into place with {@code ATOMIC_MOVE}, so a reader sees the old
 * object, the new one or none; a create-only write links it into place instead (see {@link
 * #create}). Content type, cache control and the SHA-256 of the bytes live in a small header inside
 * the same file, so bytes and metadata change in the same rename.
 *
 * <p>Limits of a filesystem: a key cannot be both an object and the prefix of another object
 * ({@code a/b} and {@code a/b/c}); such a put is refused with {@link InvalidInputException}.
 * Objects are resolved inside the root only; a symbolic link leading out of it is refused.
 */
public final class FileSystemBlobStore implements BlobStore {

  private static final int MAGIC = 0x44444231; // "DDB1"
  private static final int MAGIC_V2 = 0x44444232; // "DDB2"
  private static final int DIGEST_BYTES = 32;
  private static final long DIGEST_OFFSET = 4;

  private final Path objects;
  private final Path tmp;

  public FileSystemBlobStore(Path root) {
    try {
      Path real = Files.createDirectories(root).toRealPath();
      this.objects = Files.createDirectories(real.resolve("objects"));
      this.tmp = Files.createDirectories(real.resolve("tmp"));
    } catch (IOException e) {
      throw new ConfigurationException(
          "blobRoot", "cannot create or open " + root + " (" + e.getMessage() + ")", e);
    }
  }

  private Path resolve(String relative) {
    Path path = objects.resolve(relative).normalize();
    if (!path.startsWith(objects)) {
      throw new InvalidInputException("key", "resolves outside the store root");
    }
    return path;
  }

  /** Refuses a path whose existing ancestors lead out of the root through a symbolic link. */
  private void checkInsideRoot(Path path) throws IOException {
    Path existing = path;
    while (existing != null && !Files.exists(existing)) {
      existing = existing.getParent();
    }
    if (existing == null || !existing.toRealPath().startsWith(objects)) {
      throw new InvalidInputException("key", "resolves outside the store root (symbolic link)");
    }
  }

  @Override
  public BlobInfo put(BlobKey key, InputStream data, long size, BlobMetadata metadata) {
    return write(key, data, size, metadata, false);
  }

  /**
   * Create-only: the object is published with a hard link ({@code link(2)}), which fails atomically
   * when the target exists, where a rename would silently replace it. Two creators of one key, in
   * any number of processes sharing the root, cannot both succeed.
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
    Inputs.requireRange("size", size, 0, Long.MAX_VALUE);
    Path target = resolve(key.value());
    Path temp = tmp.resolve(UUID.randomUUID() + ".part");
    try {
      checkInsideRoot(target);
      String sha256 = writeTemp(temp, data, size, metadata);
      // A concurrent delete or move of a sibling prunes directories it emptied, possibly the one
      // just created for this object: create it again and retry, a bounded number of times.
      for (int attempt = 1; ; attempt++) {
        createParents(key, target);
        if (Files.isDirectory(target)) {
          throw new InvalidInputException(
              "key", "'" + key + "' is already a prefix of other objects");
        }
        try {
          if (createOnly) {
            link(key, target, temp);
          } else {
            moveAtomically(temp, target);
          }
          break;
        } catch (NoSuchFileException parentPruned) {
          if (attempt == PUBLISH_ATTEMPTS) {
            throw parentPruned;
          }
        }
      }
      return new BlobInfo(
          key, size, metadata, Files.getLastModifiedTime(target).toInstant(), sha256, sha256);
    } catch (IOException e) {
      throw new UncheckedIOException("storing " + key + " failed", e);
    } finally {
      deleteQuietly(temp);
    }
  }

  private static final int PUBLISH_ATTEMPTS = 5;

  private static void link(BlobKey key, Path target, Path temp) throws IOException {
    try {
      Files.createLink(target, temp);
    } catch (FileAlreadyExistsException exists) {
      if (Files.isDirectory(target)) {
        throw new InvalidInputException(
            "key", "'" + key + "' is already a prefix of other objects");
      }
      throw new BlobExistsException(key);
    } catch (UnsupportedOperationException noLinks) {
      throw new IOException(
          "the blob root's filesystem has no hard links, which create-only writes need"
              + " (use a local POSIX filesystem for the blob root)",
          noLinks);
    }
  }

  /**
   * Writes header and bytes to {@code temp}, refusing a stream of the wrong length, and returns the
   * bytes' SHA-256, which it also writes into the header's reserved slot.
   */
  private static String writeTemp(Path temp, InputStream data, long size, BlobMetadata metadata)
      throws IOException {
    MessageDigest sha = sha256();
    try (FileChannel channel =
        FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
      OutputStream out = new BufferedOutputStream(Channels.newOutputStream(channel), 64 * 1024);
      writeHeader(out, metadata);
      long copied = copyExactly(data, new DigestOutputStream(out, sha), size);
      if (copied < size) {
        throw new InvalidInputException(
            "size", "the stream ended after " + copied + " of " + size + " bytes");
      }
      if (data.read() != -1) {
        throw new InvalidInputException("size", "the stream holds more than " + size + " bytes");
      }
      out.flush();
      byte[] digest = sha.digest();
      channel.write(ByteBuffer.wrap(digest), DIGEST_OFFSET);
      return HexFormat.of().formatHex(digest);
    }
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JDK has SHA-256", e);
    }
  }

  private void createParents(BlobKey key, Path target) throws IOException {
    try {
      Files.createDirectories(target.getParent());
    } catch (FileAlreadyExistsException e) {
      throw new InvalidInputException(
          "key", "'" + key + "' lies under an existing object; a file cannot also be a prefix");
    }
  }

  private static void moveAtomically(Path from, Path to) throws IOException {
    try {
      Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (AtomicMoveNotSupportedException e) {
      throw new IOException(
          "the blob root does not support atomic renames (is it on a network filesystem?)", e);
    }
  }

  private static long copyExactly(InputStream in, OutputStream out, long size) throws IOException {
    byte[] buffer = new byte[64 * 1024];
    long copied = 0;
    while (copied < size) {
      int n = in.read(buffer, 0, (int) Math.min(buffer.length, size - copied));
      if (n < 0) {
        break;
      }
      out.write(buffer, 0, n);
      copied += n;
    }
    return copied;
  }

  /**
   * Header v2 ({@code DDB2}): magic, the SHA-256 of the bytes (32 bytes, filled in once they are
   * written), content type, cache control. Objects written by earlier versions carry v1 ({@code
   * DDB1}, no digest) and read back with an unknown SHA-256 and no etag.
   */
  private static void writeHeader(OutputStream out, BlobMetadata metadata) throws IOException {
    DataOutputStream header = new DataOutputStream(out);
    header.writeInt(MAGIC_V2);
    header.write(new byte[DIGEST_BYTES]);
    header.writeUTF(metadata.contentType());
    header.writeUTF(metadata.cacheControl() == null ? "" : metadata.cacheControl());
    header.flush();
  }

  private record Header(BlobMetadata metadata, long headerBytes, String sha256) {}

  private static Header readHeader(DataInputStream in, Path path) throws IOException {
    int magic = in.readInt();
    String sha256 = null;
    long bytes = 4;
    if (magic == MAGIC_V2) {
      byte[] digest = new byte[DIGEST_BYTES];
      in.readFully(digest);
      sha256 = HexFormat.of().formatHex(digest);
      bytes += DIGEST_BYTES;
    } else if (magic != MAGIC) {
      throw new IOException(path + " is not an object written by FileSystemBlobStore");
    }
    String contentType = in.readUTF();
    String cacheControl = in.readUTF();
    bytes += 2 + utf8Length(contentType) + 2 + utf8Length(cacheControl);
    return new Header(
        new BlobMetadata(contentType, cacheControl.isEmpty() ? null : cacheControl), bytes, sha256);
  }

  private static int utf8Length(String s) {
    return s.getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
  }

  /** The etag is the SHA-256 of the bytes: it changes with them and survives a rename. */
  private static BlobInfo info(BlobKey key, long size, Header header, Instant modified) {
    return new BlobInfo(key, size, header.metadata(), modified, header.sha256(), header.sha256());
  }

  private Optional<BlobInfo> info(BlobKey key, Path path) throws IOException {
    try (DataInputStream in =
        new DataInputStream(new BufferedInputStream(Files.newInputStream(path), 1024))) {
      Header header = readHeader(in, path);
      long size = Files.size(path) - header.headerBytes();
      Instant modified = Files.getLastModifiedTime(path).toInstant();
      return Optional.of(info(key, size, header, modified));
    } catch (NoSuchFileException e) {
      return Optional.empty();
    }
  }

  @Override
  public Optional<BlobContent> get(BlobKey key) {
    Path path = resolve(key.value());
    if (!Files.isRegularFile(path)) {
      return Optional.empty();
    }
    try {
      DataInputStream in = new DataInputStream(new BufferedInputStream(Files.newInputStream(path)));
      try {
        Header header = readHeader(in, path);
        long size = Files.size(path) - header.headerBytes();
        BlobInfo info = info(key, size, header, Files.getLastModifiedTime(path).toInstant());
        return Optional.of(new BlobContent(info, in));
      } catch (IOException | RuntimeException e) {
        in.close();
        throw e;
      }
    } catch (NoSuchFileException e) {
      return Optional.empty();
    } catch (IOException e) {
      throw new UncheckedIOException("reading " + key + " failed", e);
    }
  }

  @Override
  public Optional<BlobInfo> stat(BlobKey key) {
    Path path = resolve(key.value());
    if (!Files.isRegularFile(path)) {
      return Optional.empty();
    }
    try {
      return info(key, path);
    } catch (IOException e) {
      throw new UncheckedIOException("reading " + key + " failed", e);
    }
  }

  @Override
  public BlobPage list(BlobPrefix prefix, BlobKey startAfter, int limit) {
    Inputs.requireRange("limit", limit, 1, 1000);
    List<BlobInfo> items = new ArrayList<>(limit);
    try {
      Path dir = prefix.value().isEmpty() ? objects : resolve(prefix.value());
      boolean more =
          Files.isDirectory(dir)
              && walk(
                  dir,
                  prefix.value(),
                  startAfter == null ? null : startAfter.value(),
                  limit,
                  items);
      return new BlobPage(items, more ? items.get(items.size() - 1).key() : null);
    } catch (IOException e) {
      throw new UncheckedIOException("listing " + prefix + " failed", e);
    }
  }

  /**
   * Depth-first walk in global key order: siblings sorted by name, a directory compared as {@code
   * name/}, which is exactly how its keys compare in UTF-8 order. Subtrees entirely at or before
   * {@code after} are skipped. Returns true when more objects follow the collected ones.
   */
  private boolean walk(Path dir, String dirKey, String after, int limit, List<BlobInfo> out)
      throws IOException {
    List<String[]> children = new ArrayList<>();
    try (Stream<Path> list = Files.list(dir)) {
      for (Path child : (Iterable<Path>) list::iterator) {
        String name = child.getFileName().toString();
        children.add(new String[] {dirKey + name + (Files.isDirectory(child) ? "/" : ""), name});
      }
    } catch (NoSuchFileException e) {
      return false;
    }
    children.sort(Comparator.comparing((String[] c) -> c[0], BlobKey.UTF8_ORDER));
    for (String[] child : children) {
      String key = child[0];
      Path path = dir.resolve(child[1]);
      if (key.endsWith("/")) {
        boolean inside = after != null && after.startsWith(key);
        if (after != null && !inside && BlobKey.UTF8_ORDER.compare(key, after) < 0) {
          continue;
        }
        if (walk(path, key, inside ? after : null, limit, out)) {
          return true;
        }
      } else if (after == null || BlobKey.UTF8_ORDER.compare(key, after) > 0) {
        if (out.size() == limit) {
          return true;
        }
        info(BlobKey.of(key), path).ifPresent(out::add);
      }
    }
    return false;
  }

  @Override
  public void delete(BlobKey key) {
    Path path = resolve(key.value());
    try {
      if (Files.isRegularFile(path)) {
        Files.deleteIfExists(path);
        pruneEmptyParents(path.getParent());
      }
    } catch (IOException e) {
      throw new UncheckedIOException("deleting " + key + " failed", e);
    }
  }

  @Override
  public long deletePrefix(BlobPrefix prefix) {
    Path dir = prefix.value().isEmpty() ? objects : resolve(prefix.value());
    if (!Files.isDirectory(dir)) {
      return 0;
    }
    try (Stream<Path> tree = Files.walk(dir)) {
      long count = 0;
      for (Path p : tree.sorted(Comparator.reverseOrder()).toList()) {
        if (Files.isRegularFile(p)) {
          count++;
        }
        if (!p.equals(objects)) {
          Files.deleteIfExists(p);
        }
      }
      pruneEmptyParents(dir.getParent());
      return count;
    } catch (NoSuchFileException e) {
      return 0;
    } catch (IOException e) {
      throw new UncheckedIOException("deleting " + prefix + " failed", e);
    }
  }

  @Override
  public long movePrefix(BlobPrefix from, BlobPrefix to) {
    if (from.overlaps(to)) {
      throw new InvalidInputException(
          "to", "'" + to + "' overlaps the source prefix '" + from + "'");
    }
    Path source = from.value().isEmpty() ? objects : resolve(from.value());
    if (!Files.isDirectory(source)) {
      return 0;
    }
    long count = 0;
    try (Stream<Path> tree = Files.walk(source)) {
      for (Path file : tree.filter(Files::isRegularFile).toList()) {
        String relative =
            source.relativize(file).toString().replace(file.getFileSystem().getSeparator(), "/");
        BlobKey targetKey = to.resolve(relative);
        Path target = resolve(targetKey.value());
        checkInsideRoot(target);
        createParents(targetKey, target);
        try {
          moveAtomically(file, target);
          count++;
        } catch (NoSuchFileException raced) {
          // Moved by a concurrent run of the same move: nothing left to do for this file.
        }
      }
      deleteEmptyDirectories(source);
      return count;
    } catch (IOException e) {
      throw new UncheckedIOException("moving " + from + " to " + to + " failed", e);
    }
  }

  private void deleteEmptyDirectories(Path dir) throws IOException {
    if (!Files.isDirectory(dir)) {
      return;
    }
    try (Stream<Path> tree = Files.walk(dir)) {
      for (Path p : tree.sorted(Comparator.reverseOrder()).toList()) {
        if (Files.isDirectory(p) && !p.equals(objects)) {
          try {
            Files.deleteIfExists(p);
          } catch (DirectoryNotEmptyException stillUsed) {
            // A concurrent put landed here; the directory stays.
          }
        }
      }
    }
    pruneEmptyParents(dir.getParent());
  }

  private void pruneEmptyParents(Path dir) throws IOException {
    Path current = dir;
    while (current != null && current.startsWith(objects) && !current.equals(objects)) {
      try {
        Files.deleteIfExists(current);
      } catch (DirectoryNotEmptyException stillUsed) {
        return;
      }
      current = current.getParent();
    }
  }

  private static void deleteQuietly(Path temp) {
    try {
      Files.deleteIfExists(temp);
    } catch (IOException e) {
      // A leftover temp file is harmless: it lives outside objects/ and is never listed.
      temp.toFile().deleteOnExit();
    }
  }
}
