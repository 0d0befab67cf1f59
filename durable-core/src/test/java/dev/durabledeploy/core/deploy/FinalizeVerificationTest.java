package dev.durabledeploy.core.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.durabledeploy.core.DeployOptions;
import dev.durabledeploy.core.DurableDeploy;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.UploadPath;
import dev.durabledeploy.spi.blob.BlobContent;
import dev.durabledeploy.spi.blob.BlobInfo;
import dev.durabledeploy.spi.blob.BlobKey;
import dev.durabledeploy.spi.blob.BlobMetadata;
import dev.durabledeploy.spi.blob.BlobPage;
import dev.durabledeploy.spi.blob.BlobPrefix;
import dev.durabledeploy.spi.blob.BlobStore;
import dev.durabledeploy.spi.exception.InvalidInputException;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.spi.metadata.DeployState;
import dev.durabledeploy.store.memory.InMemoryBlobStore;
import dev.durabledeploy.store.memory.InMemoryStore;
import dev.durabledeploy.store.memory.InMemoryWorkflowEngine;
import dev.durabledeploy.testkit.MutableClock;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

@DisplayName("finalize verifies content: sizes and SHA-256s against the blob store")
class FinalizeVerificationTest {

  private static final SiteId SITE = SiteId.of("verify-site");
  private static final AliasName PROD = AliasName.PRODUCTION;

  /**
   * A store that, like S3, lists no SHA-256, and for keys under {@code opaque/} does not record one
   * either (like S3 objects stored in parts), so finalize must read what it checks.
   */
  static final class LikeS3 implements BlobStore {
    final InMemoryBlobStore delegate;
    final AtomicInteger stats = new AtomicInteger();
    final AtomicInteger gets = new AtomicInteger();

    LikeS3(InMemoryBlobStore delegate) {
      this.delegate = delegate;
    }

    private static BlobInfo hide(BlobInfo i) {
      return new BlobInfo(i.key(), i.size(), i.metadata(), i.lastModified(), i.etag(), null);
    }

    @Override
    public BlobInfo put(BlobKey key, InputStream data, long size, BlobMetadata metadata) {
      return delegate.put(key, data, size, metadata);
    }

    @Override
    public BlobInfo create(BlobKey key, InputStream data, long size, BlobMetadata metadata) {
      return delegate.create(key, data, size, metadata);
    }

    @Override
    public boolean supportsCreate() {
      return true;
    }

    @Override
    public Optional<BlobContent> get(BlobKey key) {
      gets.incrementAndGet();
      return delegate.get(key);
    }

    @Override
    public Optional<BlobInfo> stat(BlobKey key) {
      stats.incrementAndGet();
      return delegate.stat(key).map(i -> i.key().value().contains("/opaque/") ? hide(i) : i);
    }

    @Override
    public BlobPage list(BlobPrefix prefix, BlobKey startAfter, int limit) {
      BlobPage page = delegate.list(prefix, startAfter, limit);
      return new BlobPage(page.items().stream().map(LikeS3::hide).toList(), page.next());
    }

    @Override
    public void delete(BlobKey key) {
      delegate.delete(key);
    }

    @Override
    public long deletePrefix(BlobPrefix prefix) {
      return delegate.deletePrefix(prefix);
    }

    @Override
    public long movePrefix(BlobPrefix from, BlobPrefix to) {
      return delegate.movePrefix(from, to);
    }
  }

  private final MutableClock clock = new MutableClock();
  private InMemoryBlobStore raw;
  private LikeS3 blobs;
  private InMemoryStore store;
  private DurableDeploy plane;
  private DurableDeploy otherHost;
  private DeployService deploys;

  @BeforeEach
  void build() {
    raw = new InMemoryBlobStore(clock);
    blobs = new LikeS3(raw);
    store = new InMemoryStore(clock);
    plane = host("verify-host");
    deploys = plane.deploys();
  }

  /** A plane on the same stores: another host of the same deploy plane. */
  private DurableDeploy host(String instanceId) {
    return DurableDeploy.builder()
        .store(store)
        .blobStore(blobs)
        .engine(new InMemoryWorkflowEngine())
        .clock(clock)
        .random(new SplittableRandom(3))
        .sleeper(d -> {})
        .options(DeployOptions.defaults())
        .instanceId(instanceId)
        .build();
  }

  @AfterEach
  void close() {
    plane.close();
    if (otherHost != null) {
      otherHost.close();
    }
  }

  private static String sha256(String content) throws Exception {
    return HexFormat.of()
        .formatHex(
            MessageDigest.getInstance("SHA-256").digest(content.getBytes(StandardCharsets.UTF_8)));
  }

  private void upload(Deploy d, String path, String content) {
    byte[] b = content.getBytes(StandardCharsets.UTF_8);
    deploys.upload(SITE, d.id(), UploadPath.of(path), new ByteArrayInputStream(b), b.length);
  }

  private Marker marker(Deploy d) {
    try (BlobContent c = raw.get(BlobLayout.marker(SITE, d.id())).orElseThrow()) {
      return Marker.parse(c.readAllBytes());
    }
  }

  @Test
  @DisplayName(
      "sizes and SHA-256s that match finalize the deploy; the marker records what was verified")
  void matching() throws Exception {
    Deploy d = deploys.init(SITE, null);
    // Uploaded through another host, so this one knows nothing of the files but the listing.
    otherHost = host("upload-host");
    DeployService uploader = otherHost.deploys();
    for (String[] file :
        new String[][] {
          {"index.html", "<h1>hi</h1>"},
          {"opaque/big.bin", "pretend this is stored in parts"},
          {"extra.txt", "not in the manifest"}
        }) {
      byte[] b = file[1].getBytes(StandardCharsets.UTF_8);
      uploader.upload(SITE, d.id(), UploadPath.of(file[0]), new ByteArrayInputStream(b), b.length);
    }
    Manifest manifest =
        Manifest.ofEntries(
            Manifest.Entry.of("index.html", 11, sha256("<h1>hi</h1>")),
            Manifest.Entry.of(
                "opaque/big.bin", 31, sha256("pretend this is stored in parts").toUpperCase()));
    blobs.stats.set(0);
    blobs.gets.set(0);
    Finalized done = deploys.finalizeDeploy(SITE, d.id(), PROD, manifest);
    assertThat(done.deploy().state()).isEqualTo(DeployState.ACTIVE);
    Marker marker = marker(d);
    assertThat(marker.files()).isEqualTo(2);
    assertThat(marker.verified().keySet())
        .containsExactly("extra.txt", "index.html", "opaque/big.bin");
    BlobInfo index = raw.stat(BlobLayout.deploy(SITE, d.id()).resolve("index.html")).orElseThrow();
    assertThat(marker.verified().get("index.html"))
        .isEqualTo(new Marker.VerifiedFile(11, index.etag(), sha256("<h1>hi</h1>")));
    assertThat(marker.verified().get("opaque/big.bin").sha256())
        .isEqualTo(sha256("pretend this is stored in parts"));
    // The listing lacks digests: one stat each, and the bytes where the stat lacks it too.
    assertThat(blobs.stats.get()).isEqualTo(2);
    assertThat(blobs.gets.get()).isEqualTo(1);
  }

  @Test
  @DisplayName(
      "files this host uploaded are checked against the SHA-256s it computed while writing them,"
          + " while the listing shows their ETags: no stat, no read; a file replaced behind its back"
          + " is read and refused")
  void digestsOfThisHostsUploads() throws Exception {
    Deploy d = deploys.init(SITE, null);
    upload(d, "index.html", "<h1>hi</h1>");
    upload(d, "opaque/big.bin", "pretend this is stored in parts");
    upload(d, "app.js", "let a = 1");
    // Replaced behind the plane's back (another writer of the bucket): a new ETag.
    byte[] other = "let a = 2".getBytes(StandardCharsets.UTF_8);
    raw.put(
        BlobLayout.deploy(SITE, d.id()).resolve("app.js"),
        new ByteArrayInputStream(other),
        other.length,
        BlobMetadata.ofType("text/javascript"));
    Manifest.Entry index = Manifest.Entry.of("index.html", 11, sha256("<h1>hi</h1>"));
    Manifest.Entry big =
        Manifest.Entry.of("opaque/big.bin", 31, sha256("pretend this is stored in parts"));
    blobs.stats.set(0);
    blobs.gets.set(0);
    assertThatThrownBy(
            () ->
                deploys.finalizeDeploy(
                    SITE,
                    d.id(),
                    PROD,
                    Manifest.ofEntries(
                        index, big, Manifest.Entry.of("app.js", 9, sha256("let a = 1")))))
        .isInstanceOfSatisfying(
            ManifestMismatchException.class,
            e ->
                assertThat(e.mismatches())
                    .extracting(ManifestMismatchException.Mismatch::path)
                    .containsExactly("app.js"));
    // Only the replaced file was asked about.
    assertThat(blobs.stats.get()).isEqualTo(1);
    blobs.stats.set(0);
    blobs.gets.set(0);
    Finalized done =
        deploys.finalizeDeploy(
            SITE,
            d.id(),
            PROD,
            Manifest.ofEntries(index, big, Manifest.Entry.of("app.js", 9, sha256("let a = 2"))));
    assertThat(done.deploy().state()).isEqualTo(DeployState.ACTIVE);
    assertThat(marker(d).verified().get("opaque/big.bin").sha256())
        .isEqualTo(sha256("pretend this is stored in parts"));
    assertThat(blobs.stats.get()).isEqualTo(1);
    assertThat(blobs.gets.get()).isZero();
  }

  @Test
  @DisplayName(
      "a size or SHA-256 that differs is refused listing the files; the deploy is pending again")
  void mismatching() throws Exception {
    Deploy d = deploys.init(SITE, null);
    upload(d, "index.html", "<h1>hi</h1>");
    upload(d, "app.js", "let a = 1");
    Manifest manifest =
        Manifest.ofEntries(
            Manifest.Entry.of("index.html", 12, sha256("<h1>hi!</h1>")),
            Manifest.Entry.of("app.js", 9, sha256("let a = 2")));
    assertThatThrownBy(() -> deploys.finalizeDeploy(SITE, d.id(), PROD, manifest))
        .isInstanceOfSatisfying(
            ManifestMismatchException.class,
            e -> {
              assertThat(e.field()).isEqualTo("manifest");
              assertThat(e.mismatchCount()).isEqualTo(2);
              assertThat(e.mismatches())
                  .extracting(ManifestMismatchException.Mismatch::path)
                  .containsExactly("app.js", "index.html");
              assertThat(e.mismatches().get(1).what()).isEqualTo("size");
              assertThat(e.mismatches().get(0).what()).isEqualTo("sha256");
            });
    assertThat(deploys.deploy(SITE, d.id()).orElseThrow().state()).isEqualTo(DeployState.PENDING);
    assertThat(raw.stat(BlobLayout.marker(SITE, d.id()))).isEmpty();

    upload(d, "index.html", "<h1>hi!</h1>");
    upload(d, "app.js", "let a = 2");
    assertThat(deploys.finalizeDeploy(SITE, d.id(), PROD, manifest).deploy().isActive()).isTrue();
  }

  @Test
  @DisplayName("a manifest entry must carry a size and a SHA-256, each path once")
  void badEntries() {
    assertThatThrownBy(() -> Manifest.Entry.of("a.js", -1, "0".repeat(64)))
        .isInstanceOfSatisfying(
            InvalidInputException.class, e -> assertThat(e.field()).isEqualTo("manifest"));
    assertThatThrownBy(() -> Manifest.Entry.of("a.js", 1, "abc"))
        .isInstanceOf(InvalidInputException.class);
    assertThatThrownBy(() -> Manifest.Entry.of("a.js", 1, null))
        .isInstanceOf(InvalidInputException.class);
    assertThatThrownBy(
            () ->
                Manifest.ofEntries(
                    Manifest.Entry.of("a.js", 1, "0".repeat(64)),
                    Manifest.Entry.of("a.js", 2, "1".repeat(64))))
        .hasMessageContaining("twice");
    assertThat(Manifest.of().files()).isEmpty();
  }
}
