package dev.durabledeploy.core.blob;

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
import dev.durabledeploy.spi.exception.InvalidInputException;
import dev.durabledeploy.spi.health.Health;
import dev.durabledeploy.spi.lock.Fence;
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
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
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
 * Objects are resolved inside the root only, and no operation follows a symbolic link below it (the
 * store never creates one): a key whose path passes through one is refused, listings skip links,
 * and deleting a prefix unlinks the links under it without entering them. The store's own {@code
 * objects/} and {@code tmp/} count too: a root where either is a link is refused when the store is
 * constructed, and every operation checks again (one {@code lstat} each) before it reads, writes or
 * deletes, failing with {@link ConfigurationException} on {@code blobRoot}; a link planted between
 * that check and the operation is beyond what paths can guard.
 */
public final class FileSystemBlobStore implements BlobStore {

  private static final int MAGIC = 0x44444231; // "DDB1"
  private static final int MAGIC_V2 = 0x44444232; // "DDB2"
  private static final int DIGEST_BYTES = 32;
  private static final long DIGEST_OFFSET = 4;

  private final Path root;
  private final Path objects;
  private final Path tmp;

  /**
   * Opens (creating if needed) a store under {@code root}.
   *
   * @throws ConfigurationException when the root cannot be created, or its {@code objects/} or
   *     {@code tmp/} is a symbolic link
   */
  public FileSystemBlobStore(Path root) {
    try {
      this.root = Files.createDirectories(root).toRealPath();
      this.objects = this.root.resolve("objects");
      this.tmp = this.root.resolve("tmp");
      requireOwnDirectories();
      Files.createDirectories(objects);
      Files.createDirectories(tmp);
    } catch (IOException e) {
      throw new ConfigurationException(
          "blobRoot", "cannot create or open " + root + " (" + e.getMessage() + ")", e);
    }
  }

  /**
   * Refuses a root whose {@code objects/} or {@code tmp/} is a symbolic link: following it would
   * list, write or delete files outside the root (a link as {@code objects/} turns a prefix delete
   * into a delete elsewhere; one as {@code tmp/} writes every upload's bytes elsewhere).
   */
  private void requireOwnDirectories() {
    for (Path own : new Path[] {objects, tmp}) {
      if (Files.isSymbolicLink(own)) {
        throw new ConfigurationException(
            "blobRoot",
            own
                + " is a symbolic link, which the store never follows (it can lead outside the"
                + " root): replace it with a directory of the root");
      }
    }
  }

  private Path resolve(String relative) {
    Path path = objects.resolve(relative).normalize();
    if (!path.startsWith(objects)) {
      throw new InvalidInputException("key", "resolves outside the store root");
    }
    return path;
  }

  /**
   * The first symbolic link on the way from the root to {@code path} (the path itself included), or
   * null when there is none. The store never creates a link, so one was planted by someone else,
   * and following it could read, change or delete files outside the root: no operation ever goes
   * through one. Checked component by component without following links, from the root itself, so
   * {@code objects/} is checked too; a component that does not exist ends the walk, since nothing
   * below it exists either.
   */
  private Path firstLink(Path path) {
    Path current = root;
    for (Path name : root.relativize(path)) {
      current = current.resolve(name);
      if (Files.isSymbolicLink(current)) {
        return current;
      }
      if (!Files.exists(current, LinkOption.NOFOLLOW_LINKS)) {
        return null;
      }
    }
    return null;
  }

  /** {@link #resolve} for an operation on one key: refused when the path passes through a link. */
  private Path resolveKey(BlobKey key) {
    requireOwnDirectories();
    Path path = resolve(key.value());
    refuseLink(key.value(), path);
    return path;
  }

  private void refuseLink(String key, Path path) {
    Path link = firstLink(path);
    if (link != null) {
      throw new InvalidInputException(
          "key",
          Inputs.render(key)
              + " passes through the symbolic link "
              + Inputs.render(root.relativize(link).toString())
              + ", which the store never follows: a link can lead outside the store root"
              + " (remove it from "
              + root
              + ")");
    }
  }

  /**
   * The directory of a prefix to list, delete or move from, or null when it passes through a link:
   * from the store's view nothing is stored there, since it never follows one.
   */
  private Path prefixDirectory(BlobPrefix prefix) {
    requireOwnDirectories();
    Path dir = prefix.value().isEmpty() ? objects : resolve(prefix.value());
    return firstLink(dir) == null ? dir : null;
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
    Path target = resolveKey(key); // checks tmp/ as well: the bytes go there first
    Path temp = tmp.resolve(UUID.randomUUID() + ".part");
    try {
      String sha256 = writeTemp(temp, data, size, metadata);
      // Read from the temp file: publishing (a link or a rename) keeps the inode and its time, and
      // the published object may already be gone again (a concurrent delete of its prefix).
      java.time.Instant modified = Files.getLastModifiedTime(temp).toInstant();
      // A concurrent delete or move of a sibling prunes directories it emptied, possibly the one
      // just created for this object: create it again and retry, a bounded number of times.
      for (int attempt = 1; ; attempt++) {
        createParents(key.value(), target);
        // A link planted while the bytes were written: publishing would replace only the link
        // itself, but the parents it is published under must be ours.
        refuseLink(key.value(), target);
        if (Files.isDirectory(target, LinkOption.NOFOLLOW_LINKS)) {
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
      return new BlobInfo(key, size, metadata, modified, sha256, sha256);
    } catch (IOException e) {
      throw new UncheckedIOException("storing " + key + " failed", e);
    } finally {
      deleteQuietly(temp);
    }
  }

  /**
   * How often a write starts its directories again after a concurrent prune removed one. Every
   * prune follows a delete that finishes, so a write loses only while deletes under its prefix keep
   * running; the bound is a safety net, and a cheap one (a failed {@code mkdir} or {@code link}).
   */
  private static final int PUBLISH_ATTEMPTS = 100;

  private static void link(BlobKey key, Path target, Path temp) throws IOException {
    try {
      Files.createLink(target, temp);
    } catch (FileAlreadyExistsException exists) {
      if (Files.isDirectory(target, LinkOption.NOFOLLOW_LINKS)) {
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

  /**
   * Creates the directories of {@code target}, one level after another. A concurrent delete or move
   * under the same prefix prunes every directory it leaves empty, possibly a level this call has
   * just created and not yet filled, so creating the next level fails: start again, a bounded
   * number of times (a prune only follows a delete; it cannot win for ever).
   */
  /** Whether a parent of {@code target} under the root is something other than a directory. */
  private boolean fileAmongParents(Path target) {
    for (Path p = target.getParent(); p != null && p.startsWith(root); p = p.getParent()) {
      // One stat per level: "exists" then "is a directory" as two would take a level a prune
      // removed between them for a file.
      try {
        if (!Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS)
            .isDirectory()) {
          return true;
        }
      } catch (NoSuchFileException pruned) {
        continue; // gone: not a file among the parents
      } catch (IOException unreadable) {
        return false; // the create that follows reports the level it cannot use
      }
    }
    return false;
  }

  private void createParents(String key, Path target) throws IOException {
    for (int attempt = 1; ; attempt++) {
      try {
        Files.createDirectories(target.getParent());
        return;
      } catch (FileAlreadyExistsException e) {
        // The JDK reports a level that a concurrent prune removed between its create and its
        // directory check as "already exists" too: only a file among the parents is the caller's.
        if (fileAmongParents(target)) {
          throw new InvalidInputException(
              "key",
              ForeignBlob.render(key)
                  + " lies under an existing object; a file cannot also be a prefix");
        }
        if (attempt == PUBLISH_ATTEMPTS) {
          // Pruned again and again by deletes under the prefix that keep running: an I/O failure
          // the caller may retry, not a key it must change.
          throw e;
        }
      } catch (NoSuchFileException levelPruned) {
        if (attempt == PUBLISH_ATTEMPTS) {
          throw levelPruned;
        }
      }
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
    bytes += 2 + writtenLength(contentType) + 2 + writtenLength(cacheControl);
    return new Header(
        new BlobMetadata(contentType, cacheControl.isEmpty() ? null : cacheControl), bytes, sha256);
  }

  /**
   * The bytes {@link DataOutputStream#writeUTF} wrote for {@code s}: "modified UTF-8", which
   * encodes U+0000 in two bytes and a character beyond the Basic Multilingual Plane as its two
   * surrogates of three bytes each (six, where UTF-8 takes four). The header is measured in the
   * encoding it is written in, or every size would be off for such metadata.
   */
  private static int writtenLength(String s) {
    int bytes = 0;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      bytes += c >= 0x0001 && c <= 0x007f ? 1 : c <= 0x07ff ? 2 : 3;
    }
    return bytes;
  }

  /** The etag is the SHA-256 of the bytes: it changes with them and survives a rename. */
  private static BlobInfo info(BlobKey key, long size, Header header, Instant modified) {
    return new BlobInfo(key, size, header.metadata(), modified, header.sha256(), header.sha256());
  }

  private Optional<BlobInfo> info(BlobKey key, Path path) throws IOException {
    try (DataInputStream in =
        new DataInputStream(
            new BufferedInputStream(Files.newInputStream(path, LinkOption.NOFOLLOW_LINKS), 1024))) {
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
    Path path = resolveKey(key);
    if (!Files.isRegularFile(path, LinkOption.NOFOLLOW_LINKS)) {
      return Optional.empty();
    }
    try {
      DataInputStream in =
          new DataInputStream(
              new BufferedInputStream(Files.newInputStream(path, LinkOption.NOFOLLOW_LINKS)));
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
    Path path = resolveKey(key);
    if (!Files.isRegularFile(path, LinkOption.NOFOLLOW_LINKS)) {
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
    List<ForeignBlob> foreign = new ArrayList<>();
    try {
      Path dir = prefixDirectory(prefix);
      boolean more =
          dir != null
              && Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)
              && walk(
                  dir,
                  prefix.value(),
                  startAfter == null ? null : startAfter.value(),
                  limit,
                  items,
                  foreign);
      return new BlobPage(items, more ? items.get(items.size() - 1).key() : null, foreign);
    } catch (IOException e) {
      throw new UncheckedIOException("listing " + prefix + " failed", e);
    }
  }

  /**
   * Depth-first walk in global key order: siblings sorted by name, a directory compared as {@code
   * name/}, which is exactly how its keys compare in UTF-8 order. Subtrees entirely at or before
   * {@code after} are skipped. Returns true when more objects follow the collected ones. Only
   * regular files and directories are walked: a symbolic link is neither listed nor followed. A
   * file whose key is not a valid {@link BlobKey} goes to {@code foreign}.
   */
  private boolean walk(
      Path dir,
      String dirKey,
      String after,
      int limit,
      List<BlobInfo> out,
      List<ForeignBlob> foreign)
      throws IOException {
    List<String[]> children = new ArrayList<>();
    try (Stream<Path> list = Files.list(dir)) {
      for (Path child : (Iterable<Path>) list::iterator) {
        String name = child.getFileName().toString();
        BasicFileAttributes attributes;
        try {
          attributes =
              Files.readAttributes(child, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException goneMeanwhile) {
          continue;
        }
        if (attributes.isDirectory() || attributes.isRegularFile()) {
          children.add(new String[] {dirKey + name + (attributes.isDirectory() ? "/" : ""), name});
        }
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
        if (walk(path, key, inside ? after : null, limit, out, foreign)) {
          return true;
        }
      } else if (after == null || BlobKey.UTF8_ORDER.compare(key, after) > 0) {
        if (out.size() == limit) {
          return true;
        }
        Optional<BlobKey> valid = BlobKey.parse(key);
        if (valid.isPresent()) {
          info(valid.get(), path).ifPresent(out::add);
        } else {
          // A name the store would refuse (a control character, a backslash, an over-long
          // path): put there by hand or by another program. Reported, never an error.
          try {
            foreign.add(
                new ForeignBlob(
                    key,
                    Files.size(path),
                    Files.getLastModifiedTime(path, LinkOption.NOFOLLOW_LINKS).toInstant()));
          } catch (NoSuchFileException goneMeanwhile) {
            // Deleted since the directory was read.
          }
        }
      }
    }
    return false;
  }

  @Override
  public void delete(BlobKey key) {
    Path path = resolveKey(key);
    try {
      if (Files.isRegularFile(path, LinkOption.NOFOLLOW_LINKS)) {
        Files.deleteIfExists(path);
        pruneEmptyParents(path.getParent());
      }
    } catch (IOException e) {
      throw new UncheckedIOException("deleting " + key + " failed", e);
    }
  }

  @Override
  public long deletePrefix(BlobPrefix prefix) {
    return deletePrefix(prefix, Fence.NONE);
  }

  /** Checks {@code fence} before each file it deletes. */
  @Override
  public long deletePrefix(BlobPrefix prefix, Fence fence) {
    Objects.requireNonNull(fence, "fence");
    fence.check();
    Path dir = prefixDirectory(prefix);
    if (dir == null || !Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
      return 0;
    }
    // Files.walk does not follow links: a link under the prefix is unlinked, never entered, so
    // the prefix is emptied and nothing outside the root is touched.
    try (Stream<Path> tree = Files.walk(dir)) {
      long count = 0;
      for (Path p : tree.sorted(Comparator.reverseOrder()).toList()) {
        if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
          fence.check();
          count++;
        }
        if (!p.equals(objects)) {
          try {
            Files.deleteIfExists(p);
          } catch (DirectoryNotEmptyException writtenMeanwhile) {
            // A concurrent write landed here after the walk listed it; it stays, with the write.
          }
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
    return movePrefix(from, to, Fence.NONE);
  }

  /** Checks {@code fence} before each file it moves (one rename: copy and delete in one). */
  @Override
  public long movePrefix(BlobPrefix from, BlobPrefix to, Fence fence) {
    Objects.requireNonNull(fence, "fence");
    fence.check();
    if (from.overlaps(to)) {
      throw new InvalidInputException(
          "to", "'" + to + "' overlaps the source prefix '" + from + "'");
    }
    Path source = prefixDirectory(from);
    if (source == null || !Files.isDirectory(source, LinkOption.NOFOLLOW_LINKS)) {
      return 0;
    }
    refuseLink(to.value(), to.value().isEmpty() ? objects : resolve(to.value()));
    long count = 0;
    // Files.walk does not follow links, and only regular files are moved: a link under the
    // source stays where it is, never entered.
    try (Stream<Path> tree = Files.walk(source)) {
      for (Path file :
          tree.filter(p -> Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)).toList()) {
        // Path to path, not through a BlobKey: a foreign file (a name the store would refuse as
        // a key) moves with its prefix under the same raw name.
        String relative =
            source.relativize(file).toString().replace(file.getFileSystem().getSeparator(), "/");
        String targetKey = to.value() + relative;
        Path target = resolve(targetKey);
        refuseLink(targetKey, target);
        createParents(targetKey, target);
        refuseLink(targetKey, target);
        fence.check();
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
    if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    try (Stream<Path> tree = Files.walk(dir)) {
      for (Path p : tree.sorted(Comparator.reverseOrder()).toList()) {
        if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS) && !p.equals(objects)) {
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

  /** Below this share of the volume free, {@link #health()} reports DEGRADED. */
  static final double FREE_SPACE_DEGRADED_FRACTION = 0.05;

  /**
   * Whether the root is a writable directory, and the free space of its volume. DOWN when the root
   * is gone or not writable; DEGRADED below 5% free, since uploads fail once the disk is full.
   */
  @Override
  public Health health() {
    java.util.Map<String, Object> details = new java.util.LinkedHashMap<>();
    if (!Files.isDirectory(objects) || !Files.isWritable(tmp)) {
      details.put(
          "reason", "the blob root's objects/ or tmp/ directory is missing or not writable");
      return Health.down(details);
    }
    try {
      java.nio.file.FileStore volume = Files.getFileStore(root);
      long usable = volume.getUsableSpace();
      long total = volume.getTotalSpace();
      details.put("usableBytes", usable);
      details.put("totalBytes", total);
      if (total > 0 && usable < total * FREE_SPACE_DEGRADED_FRACTION) {
        details.put("reason", "less than 5% of the blob root's volume is free");
        return Health.degraded(details);
      }
      return Health.up(details);
    } catch (IOException e) {
      throw new java.io.UncheckedIOException("reading the blob root's volume failed", e);
    }
  }
}
