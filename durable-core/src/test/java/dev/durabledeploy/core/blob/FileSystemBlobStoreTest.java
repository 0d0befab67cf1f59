package dev.durabledeploy.core.blob;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.durabledeploy.spi.blob.BlobContent;
import dev.durabledeploy.spi.blob.BlobInfo;
import dev.durabledeploy.spi.blob.BlobKey;
import dev.durabledeploy.spi.blob.BlobMetadata;
import dev.durabledeploy.spi.blob.BlobPrefix;
import dev.durabledeploy.spi.blob.BlobStore;
import dev.durabledeploy.spi.exception.ConfigurationException;
import dev.durabledeploy.spi.exception.InvalidInputException;
import dev.durabledeploy.testkit.MutableClock;
import dev.durabledeploy.testkit.tck.BlobStoreContract;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class FileSystemBlobStoreTest extends BlobStoreContract {

  @TempDir Path root;

  @Override
  protected BlobStore createBlobStore(MutableClock clock) {
    return new FileSystemBlobStore(root.resolve("store"));
  }

  /**
   * A file renamed on disk to a name the store would refuse (a control character, a backslash), as
   * a hand copy or another program leaves it. A filesystem cannot hold a folder object or an empty
   * segment.
   */
  @Override
  protected boolean plantForeign(String rawKey, String content) {
    if (rawKey.endsWith("/") || rawKey.contains("//")) {
      return false;
    }
    try {
      put("planting/x", content);
      Path objects = root.resolve("store").resolve("objects");
      Path target = objects.resolve(rawKey);
      Files.createDirectories(target.getParent());
      Files.move(objects.resolve("planting").resolve("x"), target);
      Files.delete(objects.resolve("planting"));
      return true;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Test
  @DisplayName("no key of the traversal corpus can even be constructed, so none reaches the disk")
  void traversalCorpus() {
    for (String bad :
        List.of("../x", "a/../../x", "/etc/passwd", "..\\x", "a/./b", "C:/x", "a\u0000b", "a//b")) {
      assertThatThrownBy(() -> BlobKey.of(bad)).isInstanceOf(InvalidInputException.class);
    }
    assertThat(root.resolve("x")).doesNotExist();
  }

  @Test
  @DisplayName("a symbolic link leading out of the root is refused")
  void symlinkEscape() throws IOException {
    Path outside = Files.createDirectories(root.resolve("outside"));
    Path objects = root.resolve("store").resolve("objects");
    Files.createSymbolicLink(objects.resolve("evil"), outside);
    assertThatThrownBy(
            () -> blobs.put(BlobKey.of("evil/x"), new ByteArrayInputStream(new byte[1]), 1, HTML))
        .isInstanceOf(InvalidInputException.class)
        .hasMessageContaining("outside");
    try (Stream<Path> files = Files.list(outside)) {
      assertThat(files).isEmpty();
    }
  }

  /**
   * A link planted as the store's own {@code objects/} or {@code tmp/}, after the store was built:
   * the outside directory holds a valid object of another store under the same key, so a store that
   * followed the link would list, read, overwrite or delete it, or write its upload's bytes there.
   */
  @ParameterizedTest
  @ValueSource(strings = {"objects", "tmp"})
  @DisplayName("objects/ or tmp/ replaced by a link: every operation is refused, nothing outside")
  void ownDirectoryIsALink(String own) throws Exception {
    Path store = root.resolve("planted");
    FileSystemBlobStore planted = new FileSystemBlobStore(store);
    Path outside = root.resolve("other");
    String key = "site-a/deploys/20240101-000000-aaaaaaa/index.html";
    byte[] theirs = "not the store's".getBytes(StandardCharsets.UTF_8);
    new FileSystemBlobStore(outside)
        .put(BlobKey.of(key), new ByteArrayInputStream(theirs), theirs.length, HTML);
    Path victim = outside.resolve("objects").resolve(key);
    byte[] before = Files.readAllBytes(victim);
    Files.delete(store.resolve(own));
    Files.createSymbolicLink(store.resolve(own), outside.resolve(own));
    Files.createDirectories(outside.resolve("tmp"));
    List<Runnable> operations =
        List.of(
            () -> planted.put(BlobKey.of(key), new ByteArrayInputStream(new byte[3]), 3, HTML),
            () ->
                planted.create(
                    BlobKey.of("site-a/x"), new ByteArrayInputStream(new byte[1]), 1, HTML),
            () -> planted.get(BlobKey.of(key)),
            () -> planted.stat(BlobKey.of(key)),
            () -> planted.list(BlobPrefix.of("site-a"), null, 10),
            () -> planted.delete(BlobKey.of(key)),
            () -> planted.deletePrefix(BlobPrefix.of("site-a")),
            () -> planted.movePrefix(BlobPrefix.of("site-a"), BlobPrefix.of("_trash/site-a")));
    for (Runnable operation : operations) {
      assertThatThrownBy(operation::run)
          .isInstanceOfSatisfying(
              ConfigurationException.class,
              e -> {
                assertThat(e.property()).isEqualTo("blobRoot");
                assertThat(e.getMessage()).contains(own).contains("symbolic link");
              });
    }
    assertThat(Files.readAllBytes(victim)).isEqualTo(before);
    try (Stream<Path> files = Files.walk(outside)) {
      assertThat(files.filter(Files::isRegularFile)).containsExactly(victim);
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"objects", "tmp"})
  @DisplayName("a root whose objects/ or tmp/ is a link is refused when the store is built")
  void rootWithALinkRefused(String own) throws Exception {
    Path store = Files.createDirectories(root.resolve("linked"));
    Files.createSymbolicLink(
        store.resolve(own), Files.createDirectories(root.resolve("elsewhere")));
    assertThatThrownBy(() -> new FileSystemBlobStore(store))
        .isInstanceOfSatisfying(
            ConfigurationException.class,
            e -> assertThat(e.getMessage()).contains(own).contains("symbolic link"));
  }

  /**
   * A symbolic link planted inside the root that points outside: a directory {@code objects/evil}
   * leading to {@code outside/}, a file {@code objects/site/link.html} leading to a file outside,
   * and a site directory {@code objects/linked-site} leading to a tree outside. The outside files
   * are valid objects of another store, so a store that follows the link would read them as its
   * own.
   */
  @Test
  @DisplayName(
      "a put beside a delete of the same prefix, which prunes the levels it creates, never fails"
          + " as if a file stood among its parents")
  void putBesideAPruningDelete() throws Exception {
    FileSystemBlobStore store = new FileSystemBlobStore(root.resolve("race"));
    BlobPrefix prefix = BlobPrefix.of("site-a", "deploys", "d1");
    java.util.concurrent.atomic.AtomicBoolean done =
        new java.util.concurrent.atomic.AtomicBoolean();
    Thread pruner =
        new Thread(
            () -> {
              while (!done.get()) {
                store.deletePrefix(prefix);
              }
            });
    pruner.start();
    int stored = 0;
    List<RuntimeException> failures = new ArrayList<>();
    try {
      for (int i = 0; i < 3_000; i++) {
        byte[] bytes = {1};
        try {
          store.put(
              prefix.resolve("a/b/late-" + i + ".js"),
              new ByteArrayInputStream(bytes),
              1,
              BlobMetadata.ofType("text/javascript"));
          stored++;
        } catch (RuntimeException e) {
          // A pruner that never stops can win a hundred times in a row on a loaded machine: that
          // may fail the put as an I/O failure to retry, never as a key the caller must change.
          failures.add(e);
        }
      }
    } finally {
      done.set(true);
      pruner.join();
    }
    assertThat(failures).allSatisfy(e -> assertThat(e).isInstanceOf(UncheckedIOException.class));
    assertThat(stored).isGreaterThan(failures.size());
  }

  @Nested
  @DisplayName("a symbolic link out of the root is never followed")
  class SymbolicLinks {

    private Path outside;
    private Path objects;
    private Map<Path, String> outsideBefore;

    @BeforeEach
    void plantLinks() throws IOException {
      objects = root.resolve("store").resolve("objects");
      FileSystemBlobStore other = new FileSystemBlobStore(root.resolve("other"));
      byte[] secret = "secret".getBytes(StandardCharsets.UTF_8);
      for (String key :
          List.of("x", "site/index.html", "site/deploys/d1/index.html", "site/deploys/d1/a.js")) {
        other.put(BlobKey.of(key), new ByteArrayInputStream(secret), secret.length, HTML);
      }
      outside = root.resolve("other").resolve("objects");
      put("site/keep.html", "mine");
      Files.createSymbolicLink(objects.resolve("evil"), outside);
      Files.createSymbolicLink(objects.resolve("site").resolve("link.html"), outside.resolve("x"));
      Files.createSymbolicLink(objects.resolve("linked-site"), outside.resolve("site"));
      outsideBefore = snapshot(outside);
    }

    private Map<Path, String> snapshot(Path dir) throws IOException {
      Map<Path, String> files = new TreeMap<>();
      try (Stream<Path> tree = Files.walk(dir)) {
        for (Path p : tree.filter(Files::isRegularFile).toList()) {
          files.put(dir.relativize(p), Files.readString(p, StandardCharsets.ISO_8859_1));
        }
      }
      return files;
    }

    private void assertOutsideUntouched() throws IOException {
      assertThat(snapshot(outside)).isEqualTo(outsideBefore);
    }

    @Test
    @DisplayName("get and stat through a link are refused and read nothing outside")
    void getAndStat() throws IOException {
      for (String key : List.of("evil/x", "site/link.html", "linked-site/index.html")) {
        assertThatThrownBy(() -> blobs.get(BlobKey.of(key)))
            .as(key)
            .isInstanceOf(InvalidInputException.class)
            .hasMessageContaining("symbolic link");
        assertThatThrownBy(() -> blobs.stat(BlobKey.of(key)))
            .as(key)
            .isInstanceOf(InvalidInputException.class)
            .hasMessageContaining("symbolic link");
      }
      assertThat(read("site/keep.html")).isEqualTo("mine");
      assertOutsideUntouched();
    }

    @Test
    @DisplayName("a listing never descends into or lists a link")
    void list() throws IOException {
      assertThat(walk(BlobPrefix.ROOT, 2)).containsExactly("site/keep.html");
      assertThat(walk(BlobPrefix.of("evil"), 10)).isEmpty();
      assertThat(walk(BlobPrefix.of("linked-site"), 10)).isEmpty();
      assertThat(walk(BlobPrefix.of("linked-site", "deploys"), 10)).isEmpty();
      assertOutsideUntouched();
    }

    @Test
    @DisplayName("delete through a link is refused and deletes nothing outside")
    void delete() throws IOException {
      for (String key : List.of("evil/x", "linked-site/index.html")) {
        assertThatThrownBy(() -> blobs.delete(BlobKey.of(key)))
            .as(key)
            .isInstanceOf(InvalidInputException.class)
            .hasMessageContaining("symbolic link");
      }
      assertOutsideUntouched();
    }

    @Test
    @DisplayName("delete prefix unlinks a link under the prefix and deletes nothing outside")
    void deletePrefix() throws IOException {
      assertThat(blobs.deletePrefix(BlobPrefix.of("linked-site", "deploys"))).isZero();
      assertThat(blobs.deletePrefix(BlobPrefix.of("linked-site", "deploys", "d1"))).isZero();
      assertOutsideUntouched();
      assertThat(blobs.deletePrefix(BlobPrefix.of("site"))).isEqualTo(1);
      assertThat(objects.resolve("site")).doesNotExist();
      assertThat(blobs.deletePrefix(BlobPrefix.of("evil"))).isZero();
      assertThat(blobs.deletePrefix(BlobPrefix.of("linked-site"))).isZero();
      assertThat(blobs.deletePrefix(BlobPrefix.ROOT)).isZero();
      assertThat(Files.exists(objects.resolve("evil"), LinkOption.NOFOLLOW_LINKS)).isFalse();
      assertOutsideUntouched();
    }

    @Test
    @DisplayName("move prefix neither reads through a link nor writes through one")
    void movePrefix() throws IOException {
      assertThat(
              blobs.movePrefix(
                  BlobPrefix.of("linked-site", "deploys", "d1"), BlobPrefix.of("_trash", "d1")))
          .isZero();
      assertThat(blobs.movePrefix(BlobPrefix.of("evil"), BlobPrefix.of("moved"))).isZero();
      assertThat(walk(BlobPrefix.ROOT, 10)).containsExactly("site/keep.html");
      assertOutsideUntouched();
      put("mine/d1/index.html", "mine");
      assertThatThrownBy(
              () -> blobs.movePrefix(BlobPrefix.of("mine", "d1"), BlobPrefix.of("evil", "d1")))
          .isInstanceOf(InvalidInputException.class)
          .hasMessageContaining("symbolic link");
      assertThat(read("mine/d1/index.html")).isEqualTo("mine");
      assertOutsideUntouched();
    }

    @Test
    @DisplayName("put through a link is refused and writes nothing outside")
    void putThroughLink() throws IOException {
      for (String key : List.of("evil/new", "linked-site/deploys/d2/x", "site/link.html")) {
        assertThatThrownBy(() -> put(key, "overwrite"))
            .as(key)
            .isInstanceOf(InvalidInputException.class)
            .hasMessageContaining("symbolic link");
      }
      assertOutsideUntouched();
    }
  }

  @Test
  @DisplayName("content type and cache control beyond ASCII keep the object's size exact")
  void nonAsciiMetadata() {
    List<BlobMetadata> corpus =
        List.of(
            new BlobMetadata("text/plain; name=\"caf\u00e9\"", "max-age=60, \u00fcber"),
            new BlobMetadata("text/plain; note=\"\ud83d\ude00\"", "private, x=\ud83d\ude80"),
            new BlobMetadata("text/html; charset=utf-8; t=\u65e5\u672c\ud83d\ude00", null));
    int n = 0;
    for (BlobMetadata metadata : corpus) {
      BlobKey key = BlobKey.of("meta/k" + n++);
      byte[] bytes = "hello".getBytes(StandardCharsets.UTF_8);
      assertThat(blobs.put(key, new ByteArrayInputStream(bytes), bytes.length, metadata).size())
          .isEqualTo(5);
      BlobInfo stat = blobs.stat(key).orElseThrow();
      assertThat(stat.size()).as(metadata.toString()).isEqualTo(5);
      assertThat(stat.metadata()).isEqualTo(metadata);
      try (BlobContent content = blobs.get(key).orElseThrow()) {
        assertThat(content.info().size()).isEqualTo(5);
        assertThat(content.readAllBytes()).isEqualTo(bytes);
      }
      assertThat(blobs.listAll(BlobPrefix.of("meta")))
          .filteredOn(i -> i.key().equals(key))
          .singleElement()
          .satisfies(i -> assertThat(i.size()).isEqualTo(5));
    }
  }

  @Test
  @DisplayName("a key that is also the prefix of another object is refused clearly")
  void fileAndPrefixConflict() {
    put("a/b", "x");
    assertThatThrownBy(() -> put("a/b/c", "y")).isInstanceOf(InvalidInputException.class);
    put("d/e/f", "x");
    assertThatThrownBy(() -> put("d/e", "y")).isInstanceOf(InvalidInputException.class);
  }

  @Test
  @DisplayName("writes into new directories and a delete of their prefix, at once, all succeed")
  void writeRacingPrune() throws Exception {
    // Found by the reliability harness (an upload racing purgeSite): the store creates a new
    // object's directories one level after another, and a deletePrefix removes each as soon as it
    // is empty, so creating the next level failed with NoSuchFileException. The other way round,
    // a directory the delete had listed empty could hold a new write by the time it removed it
    // (DirectoryNotEmptyException).
    int writes = 500;
    // One sweep per write, each started as the next write begins: every write races a sweep.
    java.util.concurrent.Semaphore wrote = new java.util.concurrent.Semaphore(0);
    java.util.concurrent.atomic.AtomicBoolean writing =
        new java.util.concurrent.atomic.AtomicBoolean(true);
    java.util.concurrent.ExecutorService pool =
        java.util.concurrent.Executors.newFixedThreadPool(2);
    try {
      java.util.concurrent.Future<Long> deleting =
          pool.submit(
              () -> {
                long sweeps = 0;
                while (writing.get() || wrote.availablePermits() > 0) {
                  if (wrote.tryAcquire(100, java.util.concurrent.TimeUnit.MILLISECONDS)) {
                    blobs.deletePrefix(BlobPrefix.of("site"));
                    sweeps++;
                  }
                }
                return sweeps;
              });
      java.util.concurrent.Future<Integer> written =
          pool.submit(
              () -> {
                try {
                  for (int i = 0; i < writes; i++) {
                    byte[] bytes = {(byte) i};
                    BlobKey key = BlobKey.of("site/deploys/d" + i + "/assets/x.js");
                    if (i % 2 == 0) {
                      blobs.create(key, new ByteArrayInputStream(bytes), 1, BlobMetadata.binary());
                    } else {
                      blobs.put(key, new ByteArrayInputStream(bytes), 1, BlobMetadata.binary());
                    }
                    wrote.release();
                  }
                  return writes;
                } finally {
                  writing.set(false);
                }
              });
      assertThat(written.get(60, java.util.concurrent.TimeUnit.SECONDS)).isEqualTo(writes);
      assertThat(deleting.get(60, java.util.concurrent.TimeUnit.SECONDS)).isEqualTo(writes);
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  @DisplayName("a failed put leaves neither a partial object nor a temp file behind")
  void noLeftovers() throws IOException {
    BlobKey key = BlobKey.of("a/x");
    assertThatThrownBy(
            () -> blobs.put(key, new ByteArrayInputStream(new byte[2]), 10, BlobMetadata.binary()))
        .isInstanceOf(InvalidInputException.class);
    try (Stream<Path> temps = Files.list(root.resolve("store").resolve("tmp"))) {
      assertThat(temps).isEmpty();
    }
    assertThat(blobs.stat(key)).isEmpty();
    assertThat(blobs.listAll(BlobPrefix.ROOT)).isEmpty();
  }

  @Test
  @DisplayName("a file not written by the store is reported, not misread")
  void foreignFile() throws IOException {
    Path objects = root.resolve("store").resolve("objects");
    Files.writeString(objects.resolve("foreign"), "hello");
    assertThatThrownBy(() -> blobs.stat(BlobKey.of("foreign")))
        .isInstanceOf(UncheckedIOException.class)
        .hasMessageContaining("foreign");
  }
}
