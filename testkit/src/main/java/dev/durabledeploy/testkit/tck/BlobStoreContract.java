package dev.durabledeploy.testkit.tck;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

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
import dev.durabledeploy.spi.exception.TransientStoreException;
import dev.durabledeploy.spi.lock.Fence;
import dev.durabledeploy.testkit.MutableClock;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/**
 * The contract of {@link BlobStore}: atomic puts of exact sizes, metadata kept, create-only writes
 * that exactly one of racing creators wins, the SHA-256 and etag of each object, stable paged
 * listings in UTF-8 byte order, and idempotent prefix delete and move (V9).
 */
public abstract class BlobStoreContract {

  protected static final BlobMetadata HTML =
      new BlobMetadata("text/html; charset=utf-8", "public, max-age=60");

  protected final MutableClock clock = new MutableClock();
  protected BlobStore blobs;

  /**
   * The order the server under test lists keys in: S3's UTF-8 byte order, which every store of the
   * library promises. A fixture whose test server differs (S3Proxy sorts Java strings, which only
   * matters beyond the Basic Multilingual Plane) declares its server's order here.
   */
  protected Comparator<String> listingOrder() {
    return BlobKey.UTF8_ORDER;
  }

  /** An empty blob store; closed after each test. Shared backends must isolate tests. */
  protected abstract BlobStore createBlobStore(MutableClock clock);

  /**
   * Server-side copies that go wrong, for a store that moves a prefix by copying each object and
   * then deleting the source (S3): {@link #store()} reaches the objects of {@link #blobs} through
   * an endpoint whose next copies can be made to fail without copying.
   */
  public interface FaultyCopies extends AutoCloseable {

    /** A store on the same objects as {@link #blobs} whose copies go through the faults. */
    BlobStore store();

    /** The next {@code n} copies answer "not found" (404) and copy nothing. */
    void copiesAnswerNotFound(int n);

    /** The next {@code n} copies answer success and copy nothing. */
    void copiesAnswerSuccessWithoutCopying(int n);

    @Override
    void close();
  }

  /**
   * How to break this store's copies (see {@link FaultyCopies}), called once per test that needs
   * it; null (the default) for a store that moves by rename and so has no copy to lose.
   */
  protected FaultyCopies faultyCopies() {
    return null;
  }

  /**
   * Keys of every foreign kind, all under {@code f/deploys/d1/}: a console's folder object, an
   * empty segment, control characters, a backslash. The library never writes such keys; other
   * writers of a bucket do.
   */
  protected static final List<String> FOREIGN_KEYS =
      List.of(
          "f/deploys/d1/",
          "f/deploys/d1//x.html",
          "f/deploys/d1/a\u0001b.html",
          "f/deploys/d1/new\nline.html",
          "f/deploys/d1/back\\slash.html");

  /**
   * Writes an object under {@code rawKey} the way another writer of the backend would (the store
   * itself refuses such keys), or returns false when the backend cannot hold that key at all (a
   * filesystem has no folder objects and no empty segments). The default holds none.
   */
  protected boolean plantForeign(String rawKey, String content) {
    return false;
  }

  @BeforeEach
  void openBlobs() {
    blobs = createBlobStore(clock);
  }

  @AfterEach
  void closeBlobs() {
    blobs.close();
  }

  protected BlobInfo put(String key, String content) {
    byte[] bytes = content.getBytes(StandardCharsets.UTF_8);
    return blobs.put(BlobKey.of(key), new ByteArrayInputStream(bytes), bytes.length, HTML);
  }

  protected String read(String key) {
    try (BlobContent content = blobs.get(BlobKey.of(key)).orElseThrow()) {
      return new String(content.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  /**
   * Metadata as a store may legitimately normalise it: optional whitespace around {@code ;} in a
   * media type is insignificant (RFC 9110), as is the case of parameter values like the charset.
   */
  protected static BlobMetadata normalised(BlobMetadata m) {
    return new BlobMetadata(
        m.contentType().replaceAll("\\s*;\\s*", ";").toLowerCase(java.util.Locale.ROOT),
        m.cacheControl());
  }

  /** Every key under the prefix, walking pages of {@code pageSize}. */
  protected List<String> walk(BlobPrefix prefix, int pageSize) {
    List<String> keys = new ArrayList<>();
    BlobKey after = null;
    do {
      BlobPage page = blobs.list(prefix, after, pageSize);
      assertThat(page.items().size()).isLessThanOrEqualTo(pageSize);
      page.items().forEach(i -> keys.add(i.key().value()));
      after = page.next();
    } while (after != null);
    return keys;
  }

  @Nested
  @DisplayName("objects")
  class Objects {

    @Test
    @DisplayName("round-trip bytes, size, content type and cache control")
    void roundTrip() {
      BlobInfo info = put("site-a/deploys/d1/index.html", "<h1>hi</h1>");
      assertThat(info.size()).isEqualTo(11);
      assertThat(read("site-a/deploys/d1/index.html")).isEqualTo("<h1>hi</h1>");
      BlobInfo stat = blobs.stat(BlobKey.of("site-a/deploys/d1/index.html")).orElseThrow();
      assertThat(stat.size()).isEqualTo(11);
      assertThat(normalised(stat.metadata())).isEqualTo(normalised(HTML));
      assertThat(stat.key()).isEqualTo(BlobKey.of("site-a/deploys/d1/index.html"));
    }

    @Test
    @DisplayName("a put replaces the previous object; empty objects are fine")
    void overwriteAndEmpty() {
      put("a/x", "one");
      put("a/x", "two!");
      assertThat(read("a/x")).isEqualTo("two!");
      put("a/empty", "");
      assertThat(blobs.stat(BlobKey.of("a/empty")).orElseThrow().size()).isZero();
      assertThat(read("a/empty")).isEmpty();
    }

    @Test
    @DisplayName("a stream shorter or longer than the declared size stores nothing")
    void exactSize() {
      BlobKey key = BlobKey.of("a/x");
      assertThatThrownBy(() -> blobs.put(key, new ByteArrayInputStream(new byte[3]), 5, HTML))
          .isInstanceOfSatisfying(
              InvalidInputException.class, e -> assertThat(e.field()).isEqualTo("size"));
      assertThat(blobs.stat(key)).isEmpty();
      assertThatThrownBy(() -> blobs.put(key, new ByteArrayInputStream(new byte[8]), 5, HTML))
          .isInstanceOf(InvalidInputException.class);
      assertThat(blobs.stat(key)).isEmpty();
    }

    @Test
    @DisplayName("missing objects read as empty and delete as a no-op")
    void missing() {
      assertThat(blobs.get(BlobKey.of("nope/x"))).isEmpty();
      assertThat(blobs.stat(BlobKey.of("nope/x"))).isEmpty();
      blobs.delete(BlobKey.of("nope/x"));
      put("a/x", "1");
      blobs.delete(BlobKey.of("a/x"));
      assertThat(blobs.stat(BlobKey.of("a/x"))).isEmpty();
    }

    @Test
    @DisplayName("keys with spaces, unicode and shell characters round-trip")
    void specialKeys() {
      List<String> keys =
          List.of(
              "a/with space.txt",
              "a/über/日本.html",
              "a/emoji 😀.png",
              "a/q'uote\"$(x).js",
              "a/%20+&=.css");
      for (String key : keys) {
        put(key, key);
      }
      for (String key : keys) {
        assertThat(read(key)).isEqualTo(key);
      }
      assertThat(walk(BlobPrefix.of("a"), 2)).hasSize(keys.size());
    }
  }

  /** The SHA-256 of {@code content} as 64 lowercase hex digits. */
  protected static String sha256(String content) {
    try {
      return java.util.HexFormat.of()
          .formatHex(
              java.security.MessageDigest.getInstance("SHA-256")
                  .digest(content.getBytes(StandardCharsets.UTF_8)));
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  protected BlobInfo create(String key, String content) {
    byte[] bytes = content.getBytes(StandardCharsets.UTF_8);
    return blobs.create(BlobKey.of(key), new ByteArrayInputStream(bytes), bytes.length, HTML);
  }

  @Nested
  @DisplayName("create-only writes")
  class CreateOnly {

    @Test
    @DisplayName("a create stores the object when the key is free and reports its SHA-256")
    void creates() {
      assertThat(blobs.supportsCreate()).isTrue();
      BlobInfo created = create("site-a/deploys/d1/index.html", "<h1>v1</h1>");
      assertThat(created.size()).isEqualTo(11);
      assertThat(created.sha256()).isEqualTo(sha256("<h1>v1</h1>"));
      assertThat(read("site-a/deploys/d1/index.html")).isEqualTo("<h1>v1</h1>");
      BlobInfo stat = blobs.stat(BlobKey.of("site-a/deploys/d1/index.html")).orElseThrow();
      assertThat(stat.sha256()).isEqualTo(sha256("<h1>v1</h1>"));
      assertThat(normalised(stat.metadata())).isEqualTo(normalised(HTML));
    }

    @Test
    @DisplayName("a create refuses a key that holds an object and leaves that object as it was")
    void refusesExisting() {
      put("a/x", "one");
      BlobInfo before = blobs.stat(BlobKey.of("a/x")).orElseThrow();
      assertThatThrownBy(() -> create("a/x", "two!"))
          .isInstanceOfSatisfying(
              BlobExistsException.class, e -> assertThat(e.key()).isEqualTo(BlobKey.of("a/x")));
      assertThat(read("a/x")).isEqualTo("one");
      assertThat(blobs.stat(BlobKey.of("a/x")).orElseThrow().etag()).isEqualTo(before.etag());
      create("a/y", "first");
      assertThatThrownBy(() -> create("a/y", "second")).isInstanceOf(BlobExistsException.class);
      assertThat(read("a/y")).isEqualTo("first");
    }

    @Test
    @DisplayName(
        "of 8 threads creating one key at once exactly one wins; the object holds its bytes")
    void race() throws Exception {
      int creators = 8;
      java.util.concurrent.ExecutorService pool =
          java.util.concurrent.Executors.newFixedThreadPool(creators);
      java.util.concurrent.CountDownLatch start = new java.util.concurrent.CountDownLatch(1);
      try {
        List<java.util.concurrent.Future<String>> attempts = new ArrayList<>();
        for (int i = 0; i < creators; i++) {
          String content = ("creator " + i + " ").repeat(4096);
          attempts.add(
              pool.submit(
                  () -> {
                    start.await();
                    try {
                      create("race/key", content);
                      return content;
                    } catch (BlobExistsException lost) {
                      return null;
                    }
                  }));
        }
        start.countDown();
        List<String> winners = new ArrayList<>();
        for (java.util.concurrent.Future<String> attempt : attempts) {
          String won = attempt.get(60, java.util.concurrent.TimeUnit.SECONDS);
          if (won != null) {
            winners.add(won);
          }
        }
        assertThat(winners).hasSize(1);
        assertThat(read("race/key")).isEqualTo(winners.get(0));
        assertThat(blobs.stat(BlobKey.of("race/key")).orElseThrow().sha256())
            .isEqualTo(sha256(winners.get(0)));
        assertThat(walk(BlobPrefix.of("race"), 10)).containsExactly("race/key");
      } finally {
        pool.shutdownNow();
      }
    }

    @Test
    @DisplayName("a create of the wrong size stores nothing and leaves the key free")
    void exactSize() {
      BlobKey key = BlobKey.of("a/x");
      assertThatThrownBy(() -> blobs.create(key, new ByteArrayInputStream(new byte[3]), 5, HTML))
          .isInstanceOfSatisfying(
              InvalidInputException.class, e -> assertThat(e.field()).isEqualTo("size"));
      assertThatThrownBy(() -> blobs.create(key, new ByteArrayInputStream(new byte[8]), 5, HTML))
          .isInstanceOf(InvalidInputException.class);
      assertThat(blobs.stat(key)).isEmpty();
      create("a/x", "fine");
      assertThat(read("a/x")).isEqualTo("fine");
    }

    @Test
    @DisplayName("the etag changes with the content, agrees between list and stat, survives a move")
    void etags() {
      BlobInfo first = put("e/d/x", "one");
      BlobInfo second = put("e/d/x", "two");
      assertThat(first.etag()).isNotNull();
      assertThat(second.etag()).isNotNull().isNotEqualTo(first.etag());
      BlobInfo stat = blobs.stat(BlobKey.of("e/d/x")).orElseThrow();
      assertThat(stat.etag()).isEqualTo(second.etag());
      assertThat(stat.sha256()).isEqualTo(sha256("two"));
      assertThat(blobs.listAll(BlobPrefix.of("e")).get(0).etag()).isEqualTo(stat.etag());
      blobs.movePrefix(BlobPrefix.of("e", "d"), BlobPrefix.of("moved", "d"));
      BlobInfo moved = blobs.stat(BlobKey.of("moved/d/x")).orElseThrow();
      assertThat(moved.etag()).isEqualTo(stat.etag());
      assertThat(moved.sha256()).isEqualTo(sha256("two"));
    }
  }

  @Nested
  @DisplayName("listing")
  class Listing {

    @Test
    @DisplayName("pages through every key exactly once in order")
    void pages() {
      List<String> expected = new ArrayList<>();
      for (int i = 0; i < 25; i++) {
        String key = String.format("site-a/deploys/d1/f%02d.txt", i);
        put(key, "x");
        expected.add(key);
      }
      assertThat(walk(BlobPrefix.of("site-a"), 10)).containsExactlyElementsOf(expected);
      assertThat(walk(BlobPrefix.of("site-a"), 1000)).containsExactlyElementsOf(expected);
      BlobPage first = blobs.list(BlobPrefix.of("site-a"), null, 10);
      assertThat(first.items()).hasSize(10);
      assertThat(first.nextStartAfter()).contains(first.items().get(9).key());
    }

    @Test
    @DisplayName(
        "orders keys beyond the Basic Multilingual Plane in the listing order, page by page")
    void orderBeyondTheBasicPlane() {
      List<String> keys =
          new ArrayList<>(List.of("u/a.txt", "u/\uff61.txt", "u/😀.txt", "u/z.txt"));
      keys.forEach(k -> put(k, "x"));
      keys.sort(listingOrder());
      assertThat(walk(BlobPrefix.of("u"), 1)).containsExactlyElementsOf(keys);
      assertThat(walk(BlobPrefix.of("u"), 3)).containsExactlyElementsOf(keys);
    }

    @Test
    @DisplayName("a prefix never matches a sibling that merely starts with the same characters")
    void prefixBoundary() {
      put("site-a/x", "1");
      put("site-ab/x", "2");
      put("site-a-b/x", "3");
      assertThat(walk(BlobPrefix.of("site-a"), 10)).containsExactly("site-a/x");
      assertThat(walk(BlobPrefix.ROOT, 10)).hasSize(3);
    }

    @Test
    @DisplayName("walking pages while objects change yields every object present throughout once")
    void stableUnderChange() {
      for (int i = 0; i < 30; i++) {
        put(String.format("p/k%02d", i), "x");
      }
      List<String> seen = new ArrayList<>();
      BlobKey after = null;
      int round = 0;
      do {
        BlobPage page = blobs.list(BlobPrefix.of("p"), after, 7);
        page.items().forEach(i -> seen.add(i.key().value()));
        after = page.next();
        if (after != null) {
          blobs.delete(page.items().get(0).key()); // already listed
          put("p/k" + String.format("%02d", round) + "b", "new"); // behind the cursor
        }
        round++;
      } while (after != null);
      for (int i = 0; i < 30; i++) {
        assertThat(seen).containsOnlyOnce(String.format("p/k%02d", i));
      }
    }

    @Test
    @DisplayName("an empty prefix lists nothing; limits outside 1..1000 are refused")
    void emptyAndLimits() {
      BlobPage page = blobs.list(BlobPrefix.of("nothing"), null, 10);
      assertThat(page.items()).isEmpty();
      assertThat(page.next()).isNull();
      assertThatThrownBy(() -> blobs.list(BlobPrefix.ROOT, null, 0))
          .isInstanceOf(InvalidInputException.class);
      assertThatThrownBy(() -> blobs.list(BlobPrefix.ROOT, null, 1001))
          .isInstanceOf(InvalidInputException.class);
    }
  }

  /**
   * Every foreign key this store can hold, planted beside valid objects under {@code f/deploys/}.
   */
  private List<String> plantForeignKeys() {
    put("f/deploys/d0/a.html", "a");
    put("f/deploys/d1/index.html", "index");
    put("f/deploys/d1/z.html", "z");
    put("f/deploys/d2/b.html", "b");
    List<String> planted = new ArrayList<>();
    for (String raw : FOREIGN_KEYS) {
      if (plantForeign(raw, "foreign")) {
        planted.add(raw);
      }
    }
    assumeTrue(!planted.isEmpty(), "this store's backend can hold none of the foreign keys");
    return planted;
  }

  /** The raw keys of every foreign object under the prefix, walking pages of {@code pageSize}. */
  protected List<String> walkForeign(BlobPrefix prefix, int pageSize) {
    List<String> keys = new ArrayList<>();
    BlobKey after = null;
    do {
      BlobPage page = blobs.list(prefix, after, pageSize);
      page.foreign().forEach(f -> keys.add(f.rawKey()));
      after = page.next();
    } while (after != null);
    return keys;
  }

  @Nested
  @DisplayName("foreign keys")
  class ForeignKeys {

    @Test
    @DisplayName("a listing reports foreign keys aside, once each, and still pages every valid key")
    void listed() {
      List<String> planted = plantForeignKeys();
      for (int pageSize : new int[] {1, 2, 3, 1000}) {
        assertThat(walk(BlobPrefix.of("f"), pageSize))
            .as("page size %d", pageSize)
            .containsExactly(
                "f/deploys/d0/a.html",
                "f/deploys/d1/index.html",
                "f/deploys/d1/z.html",
                "f/deploys/d2/b.html");
        assertThat(walkForeign(BlobPrefix.of("f"), pageSize))
            .as("page size %d", pageSize)
            .containsExactlyInAnyOrderElementsOf(planted);
      }
      assertThat(blobs.listAll(BlobPrefix.of("f", "deploys", "d1"))).hasSize(2);
      BlobKey after = null;
      do {
        BlobPage page = blobs.list(BlobPrefix.of("f"), after, 2);
        for (ForeignBlob foreign : page.foreign()) {
          assertThat(foreign.toString()).doesNotContain("\n", "\u0001").startsWith("'");
          assertThat(foreign.reason()).isNotEmpty();
          assertThat(foreign.isUnder(BlobPrefix.of("f", "deploys", "d1"))).isTrue();
        }
        after = page.next();
      } while (after != null);
    }

    @Test
    @DisplayName("deleting a prefix removes its foreign objects too, and nothing beside it")
    void deleted() {
      List<String> planted = plantForeignKeys();
      assertThat(blobs.deletePrefix(BlobPrefix.of("f", "deploys", "d1")))
          .isEqualTo(2 + planted.size());
      assertThat(walk(BlobPrefix.of("f"), 10))
          .containsExactly("f/deploys/d0/a.html", "f/deploys/d2/b.html");
      assertThat(walkForeign(BlobPrefix.of("f"), 10)).isEmpty();
      assertThat(blobs.deletePrefix(BlobPrefix.of("f", "deploys", "d1"))).isZero();
    }

    @Test
    @DisplayName("moving a prefix moves its foreign objects to the same raw relative keys")
    void moved() {
      List<String> planted = plantForeignKeys();
      BlobPrefix from = BlobPrefix.of("f", "deploys", "d1");
      BlobPrefix to = BlobPrefix.of("t", "d1");
      assertThat(blobs.movePrefix(from, to)).isEqualTo(2 + planted.size());
      assertThat(walk(from, 10)).isEmpty();
      assertThat(walkForeign(from, 10)).isEmpty();
      assertThat(walk(to, 10)).containsExactly("t/d1/index.html", "t/d1/z.html");
      assertThat(walkForeign(to, 10))
          .containsExactlyInAnyOrderElementsOf(
              planted.stream().map(k -> "t/d1/" + k.substring(from.value().length())).toList());
      assertThat(blobs.movePrefix(from, to)).isZero();
    }
  }

  @Nested
  @DisplayName("prefix operations")
  class Prefixes {

    @Test
    @DisplayName("delete prefix removes everything under it, once, and nothing beside it")
    void deletePrefix() {
      for (int i = 0; i < 12; i++) {
        put("site-a/deploys/d1/f" + i, "x");
      }
      put("site-a/deploys/d10/keep", "x");
      assertThat(blobs.deletePrefix(BlobPrefix.of("site-a", "deploys", "d1"))).isEqualTo(12);
      assertThat(blobs.deletePrefix(BlobPrefix.of("site-a", "deploys", "d1"))).isZero();
      assertThat(walk(BlobPrefix.ROOT, 100)).containsExactly("site-a/deploys/d10/keep");
    }

    @Test
    @DisplayName("move prefix moves bytes and metadata and is a no-op when re-run (V9)")
    void movePrefix() {
      put("site-a/deploys/d1/index.html", "<p>1</p>");
      put("site-a/deploys/d1/css/a.css", "body{}");
      BlobPrefix from = BlobPrefix.of("site-a", "deploys", "d1");
      BlobPrefix to = BlobPrefix.of("_trash", "site-a", "d1");
      assertThat(blobs.movePrefix(from, to)).isEqualTo(2);
      assertThat(walk(from, 10)).isEmpty();
      assertThat(walk(to, 10))
          .containsExactly("_trash/site-a/d1/css/a.css", "_trash/site-a/d1/index.html");
      assertThat(read("_trash/site-a/d1/index.html")).isEqualTo("<p>1</p>");
      assertThat(
              normalised(
                  blobs.stat(BlobKey.of("_trash/site-a/d1/index.html")).orElseThrow().metadata()))
          .isEqualTo(normalised(HTML));
      assertThat(blobs.movePrefix(from, to)).isZero();
      assertThat(walk(to, 10)).hasSize(2);
    }

    @Test
    @DisplayName("a move interrupted half way finishes exactly when re-run")
    void halfMovedFinishes() {
      Map<String, String> files = new TreeMap<>();
      for (int i = 0; i < 10; i++) {
        files.put("f" + i, "content-" + i);
        put("src/d/f" + i, "content-" + i);
      }
      // A crash after copying f0..f5 and deleting the sources of f0..f2.
      for (int i = 0; i < 6; i++) {
        put("dst/d/f" + i, "content-" + i);
      }
      for (int i = 0; i < 3; i++) {
        blobs.delete(BlobKey.of("src/d/f" + i));
      }
      assertThat(blobs.movePrefix(BlobPrefix.of("src", "d"), BlobPrefix.of("dst", "d")))
          .isEqualTo(7);
      assertThat(walk(BlobPrefix.of("src"), 100)).isEmpty();
      Map<String, String> moved = new TreeMap<>();
      for (String key : walk(BlobPrefix.of("dst", "d"), 100)) {
        moved.put(key.substring("dst/d/".length()), read(key));
      }
      assertThat(moved).isEqualTo(files);
    }

    @Test
    @DisplayName(
        "a fenced move whose fence trips mid-prefix stops there with the fence's exception, loses"
            + " nothing, and finishes when re-run")
    void fencedMoveStopsMidPrefix() {
      for (int i = 0; i < 5; i++) {
        put("src/d/f" + i, "content-" + i);
      }
      RuntimeException lost = new IllegalStateException("fence tripped");
      TrippingFence fence = new TrippingFence(2, lost);
      assertThat(
              catchThrowable(
                  () ->
                      blobs.movePrefix(
                          BlobPrefix.of("src", "d"), BlobPrefix.of("dst", "d"), fence)))
          .as("the fence's exception, unchanged")
          .isSameAs(lost);
      assertThat(walk(BlobPrefix.of("src", "d"), 100))
          .as("a move fenced per object leaves the rest at the source")
          .hasSizeGreaterThanOrEqualTo(4);
      for (int i = 0; i < 5; i++) {
        String at =
            blobs.stat(BlobKey.of("src/d/f" + i)).isPresent() ? "src/d/f" + i : "dst/d/f" + i;
        assertThat(read(at)).as("f" + i + " is whole somewhere").isEqualTo("content-" + i);
      }
      blobs.movePrefix(BlobPrefix.of("src", "d"), BlobPrefix.of("dst", "d"));
      assertThat(walk(BlobPrefix.of("src"), 100)).isEmpty();
      assertThat(walk(BlobPrefix.of("dst", "d"), 100)).hasSize(5);
    }

    @Test
    @DisplayName("a fenced delete whose fence has tripped deletes nothing more")
    void fencedDeleteStops() {
      for (int i = 0; i < 5; i++) {
        put("del/d/f" + i, "x");
      }
      RuntimeException lost = new IllegalStateException("fence tripped");
      assertThat(
              catchThrowable(
                  () -> blobs.deletePrefix(BlobPrefix.of("del", "d"), new TrippingFence(1, lost))))
          .isSameAs(lost);
      assertThat(walk(BlobPrefix.of("del", "d"), 100)).hasSize(5);
      assertThat(blobs.deletePrefix(BlobPrefix.of("del", "d"), Fence.NONE)).isEqualTo(5);
      assertThat(walk(BlobPrefix.of("del"), 100)).isEmpty();
    }

    @Test
    @DisplayName("moving between overlapping prefixes is refused")
    void overlapping() {
      assertThatThrownBy(() -> blobs.movePrefix(BlobPrefix.of("a"), BlobPrefix.of("a", "b")))
          .isInstanceOfSatisfying(
              InvalidInputException.class, e -> assertThat(e.field()).isEqualTo("to"));
    }

    @Test
    @DisplayName("a move of a prefix whose copies are refused or lost never deletes a byte")
    void moveConfirmsEveryCopy() {
      try (FaultyCopies faulty = faultyCopies()) {
        assumeTrue(faulty != null, "this store moves by rename: there is no copy to lose");
        moveUnderFaults(faulty, () -> faulty.copiesAnswerNotFound(1));
        moveUnderFaults(faulty, () -> faulty.copiesAnswerSuccessWithoutCopying(2));
      }
    }

    /**
     * Moves five objects while {@code breakCopies} is in force: the move may fail (then as a
     * transient failure the caller retries) or finish, but every object is whole at its source or
     * its destination; a re-run without faults then finishes the move exactly.
     */
    private void moveUnderFaults(FaultyCopies faulty, Runnable breakCopies) {
      BlobPrefix from = BlobPrefix.of("confirm", "src");
      BlobPrefix to = BlobPrefix.of("confirm", "dst");
      blobs.deletePrefix(BlobPrefix.of("confirm"));
      Map<String, String> files = new TreeMap<>();
      for (int i = 0; i < 5; i++) {
        files.put("f" + i, "content-" + i);
        put("confirm/src/f" + i, "content-" + i);
      }
      breakCopies.run();
      Throwable failure = catchThrowable(() -> faulty.store().movePrefix(from, to));
      if (failure != null) {
        assertThat(failure).isInstanceOf(TransientStoreException.class);
      }
      files.forEach(
          (name, content) -> {
            String source = from.resolve(name).value();
            String target = to.resolve(name).value();
            boolean atSource = blobs.stat(BlobKey.of(source)).isPresent();
            assertThat(atSource ? read(source) : read(target)).as(name).isEqualTo(content);
          });
      faulty.store().movePrefix(from, to);
      assertThat(walk(from, 10)).isEmpty();
      Map<String, String> moved = new TreeMap<>();
      for (String key : walk(to, 10)) {
        moved.put(key.substring(to.value().length()), read(key));
      }
      assertThat(moved).isEqualTo(files);
    }

    @Test
    @DisplayName("a move keeps objects of every size, byte for byte, and empties the source")
    void moveKeepsEverySize() {
      Map<String, String> files = new TreeMap<>();
      for (int size : new int[] {0, 1, 127, 128, 265, 70_000}) {
        files.put("s" + size + ".bin", "y".repeat(size));
      }
      files.forEach((name, content) -> put("sized/d/" + name, content));
      assertThat(blobs.movePrefix(BlobPrefix.of("sized", "d"), BlobPrefix.of("resized", "d")))
          .isEqualTo(files.size());
      Map<String, String> moved = new TreeMap<>();
      for (BlobInfo info : blobs.listAll(BlobPrefix.of("resized", "d"))) {
        moved.put(info.key().value().substring("resized/d/".length()), read(info.key().value()));
      }
      assertThat(moved).isEqualTo(files);
      assertThat(blobs.listAll(BlobPrefix.of("sized"))).isEmpty();
    }

    @Test
    @DisplayName("moving a prefix with more objects than one listing page moves them all")
    void largeMove() {
      for (int i = 0; i < 1205; i++) {
        put(String.format("big/d/f%04d", i), "x");
      }
      assertThat(blobs.movePrefix(BlobPrefix.of("big", "d"), BlobPrefix.of("moved", "d")))
          .isEqualTo(1205);
      assertThat(blobs.listAll(BlobPrefix.of("moved"))).hasSize(1205);
      assertThat(blobs.listAll(BlobPrefix.of("big"))).isEmpty();
    }
  }

  /** A fence that lets its first {@code allowed} checks pass and throws {@code failure} after. */
  private static final class TrippingFence implements Fence {
    private final int allowed;
    private final RuntimeException failure;
    private int checks;

    TrippingFence(int allowed, RuntimeException failure) {
      this.allowed = allowed;
      this.failure = failure;
    }

    @Override
    public synchronized void check() {
      if (++checks > allowed) {
        throw failure;
      }
    }
  }
}
