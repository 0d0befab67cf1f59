package dev.durabledeploy.core.hostile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.durabledeploy.core.DeployOptions;
import dev.durabledeploy.core.DurableDeploy;
import dev.durabledeploy.core.blob.FileSystemBlobStore;
import dev.durabledeploy.core.deploy.BlobLayout;
import dev.durabledeploy.core.deploy.DeployService;
import dev.durabledeploy.core.deploy.Manifest;
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
import dev.durabledeploy.spi.exception.DurableDeployException;
import dev.durabledeploy.spi.exception.InvalidInputException;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.spi.metadata.DeployState;
import dev.durabledeploy.spi.retry.RetryPolicy;
import dev.durabledeploy.store.memory.InMemoryStore;
import dev.durabledeploy.store.memory.InMemoryWorkflowEngine;
import dev.durabledeploy.testkit.MutableClock;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hostile host against issue 27's upload changes: the early PENDING check spared by a recent read
 * of this host, and the filesystem store's parent creation retried after a pruning race. Two hosts
 * are two planes on one store and one directory.
 */
@DisplayName("hostile (issue 27): uploads and the filesystem blob store")
class Hostile27UploadTest {

  private static final SiteId SITE = SiteId.of("hostile-uploads");

  @TempDir Path dir;

  private final MutableClock clock = new MutableClock();
  private final List<DurableDeploy> planes = new ArrayList<>();
  private InMemoryStore store;
  private Watching blobs;

  /**
   * The filesystem store, watched: every create or put under a deploy that is ACTIVE at that moment
   * is recorded, and deletes of keys named {@code refuseDelete} fail (a store that cannot delete
   * for a while).
   */
  final class Watching implements BlobStore {
    final FileSystemBlobStore delegate;
    final List<String> intoActive = new CopyOnWriteArrayList<>();
    volatile String refuseDelete;

    Watching(FileSystemBlobStore delegate) {
      this.delegate = delegate;
    }

    private void watch(BlobKey key) {
      for (Deploy d : store.metadata().listDeploys(SITE)) {
        if (d.state() == DeployState.ACTIVE
            && key.value().startsWith(BlobLayout.deploy(SITE, d.id()).value())) {
          intoActive.add(key.value());
        }
      }
    }

    @Override
    public BlobInfo put(BlobKey key, InputStream data, long size, BlobMetadata metadata) {
      watch(key);
      return delegate.put(key, data, size, metadata);
    }

    @Override
    public BlobInfo create(BlobKey key, InputStream data, long size, BlobMetadata metadata) {
      watch(key);
      return delegate.create(key, data, size, metadata);
    }

    @Override
    public boolean supportsCreate() {
      return delegate.supportsCreate();
    }

    @Override
    public Optional<BlobContent> get(BlobKey key) {
      return delegate.get(key);
    }

    @Override
    public Optional<BlobInfo> stat(BlobKey key) {
      return delegate.stat(key);
    }

    @Override
    public BlobPage list(BlobPrefix prefix, BlobKey startAfter, int limit) {
      return delegate.list(prefix, startAfter, limit);
    }

    @Override
    public void delete(BlobKey key) {
      String refused = refuseDelete;
      if (refused != null && key.value().endsWith(refused)) {
        throw new DurableDeployException("the store refuses to delete " + key + " today");
      }
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

  @BeforeEach
  void build() {
    store = new InMemoryStore(clock);
    blobs = new Watching(new FileSystemBlobStore(dir.resolve("bucket")));
  }

  @AfterEach
  void close() {
    planes.forEach(DurableDeploy::close);
  }

  private DeployService host(String id) {
    DurableDeploy plane =
        DurableDeploy.builder()
            .store(store)
            .blobStore(blobs)
            .engine(new InMemoryWorkflowEngine())
            .clock(clock)
            .random(new SplittableRandom(id.hashCode()))
            .sleeper(d -> {})
            .retryPolicy(
                RetryPolicy.defaults().withBackoff(Duration.ofMillis(1), Duration.ofMillis(2), 2.0))
            .options(DeployOptions.builder().importSitesOnStart(false).build())
            .instanceId(id)
            .build();
    planes.add(plane);
    return plane.deploys();
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private static void upload(DeployService host, Deploy d, String path, byte[] b) {
    host.upload(SITE, d.id(), UploadPath.of(path), new ByteArrayInputStream(b), b.length);
  }

  private static String sha256(byte[] b) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
  }

  @Test
  @DisplayName(
      "an upload of host A into a deploy host B finalized before it began sends no byte into the"
          + " ACTIVE deploy (before issue 27 the early check refused it before the write)")
  void noByteIntoAnotherHostsActiveDeploy() {
    DeployService a = host("host-a");
    DeployService b = host("host-b");
    Deploy d = a.init(SITE, null);
    upload(a, d, "index.html", bytes("<p>index</p>"));
    b.finalizeDeploy(SITE, d.id(), AliasName.PRODUCTION, Manifest.of("index.html"));

    assertThatThrownBy(() -> upload(a, d, "late.html", bytes("<p>late</p>")))
        .isInstanceOf(DurableDeployException.class);
    assertThat(blobs.intoActive)
        .as("keys written under a deploy that was ACTIVE when they were written")
        .isEmpty();
  }

  @Test
  @DisplayName(
      "when the store cannot delete for a while, an upload racing another host's finalize still"
          + " leaves the ACTIVE deploy with exactly the files finalize verified")
  void unverifiedFileStaysWhenWithdrawFails() {
    DeployService a = host("host-a");
    DeployService b = host("host-b");
    Deploy d = a.init(SITE, null);
    upload(a, d, "index.html", bytes("<p>index</p>"));
    b.finalizeDeploy(SITE, d.id(), AliasName.PRODUCTION, Manifest.of("index.html"));
    blobs.refuseDelete = "late.html";

    assertThatThrownBy(() -> upload(a, d, "late.html", bytes("<script>evil()</script>")))
        .isInstanceOf(DurableDeployException.class);
    blobs.refuseDelete = null;
    assertThat(blobs.stat(BlobLayout.deploy(SITE, d.id()).resolve("late.html")))
        .as("an unverified file in the ACTIVE deploy that aliases serve")
        .isEmpty();
  }

  @Test
  @DisplayName(
      "a re-upload whose stream fails midway leaves the first bytes: finalize accepts their digest"
          + " and refuses the digest of what the failed stream carried")
  void streamFailsMidway() throws Exception {
    DeployService a = host("host-a");
    Deploy d = a.init(SITE, null);
    byte[] good = bytes("<p>good bytes, long enough to fail halfway through</p>");
    byte[] bad = bytes("<p>BAD  bytes, long enough to fail halfway through</p>");
    upload(a, d, "index.html", good);
    InputStream failing =
        new InputStream() {
          int at;

          @Override
          public int read() throws IOException {
            if (at == bad.length / 2) {
              throw new IOException("client went away");
            }
            return bad[at++];
          }
        };
    assertThatThrownBy(
            () -> a.upload(SITE, d.id(), UploadPath.of("index.html"), failing, bad.length))
        .isInstanceOf(RuntimeException.class);
    assertThatThrownBy(
            () ->
                a.finalizeDeploy(
                    SITE,
                    d.id(),
                    AliasName.PRODUCTION,
                    Manifest.ofEntries(Manifest.Entry.of("index.html", bad.length, sha256(bad)))))
        .isInstanceOf(DurableDeployException.class);
    a.finalizeDeploy(
        SITE,
        d.id(),
        AliasName.PRODUCTION,
        Manifest.ofEntries(Manifest.Entry.of("index.html", good.length, sha256(good))));
    try (BlobContent c =
        blobs.get(BlobLayout.deploy(SITE, d.id()).resolve("index.html")).orElseThrow()) {
      assertThat(c.readAllBytes()).isEqualTo(good);
    }
  }

  @Test
  @DisplayName(
      "two hosts: B overwrites a path after A recorded its digest; A's finalize with A's digest"
          + " is refused (it must not take its own record for bytes B wrote)")
  void overwriteAfterDigestRecorded() throws Exception {
    DeployService a = host("host-a");
    DeployService b = host("host-b");
    Deploy d = a.init(SITE, null);
    byte[] first = bytes("<p>written by A</p>");
    byte[] second = bytes("<p>written by B!</p>");
    upload(a, d, "index.html", first);
    upload(b, d, "index.html", second);
    assertThatThrownBy(
            () ->
                a.finalizeDeploy(
                    SITE,
                    d.id(),
                    AliasName.PRODUCTION,
                    Manifest.ofEntries(
                        Manifest.Entry.of("index.html", first.length, sha256(first)))))
        .isInstanceOf(DurableDeployException.class);
  }

  @Test
  @DisplayName(
      "a file among a key's parents is refused with a typed error at once, even while other"
          + " writers and deletes prune and recreate the levels around it")
  void fileAmongParentsRefused() throws Exception {
    FileSystemBlobStore fs = new FileSystemBlobStore(dir.resolve("raw"));
    byte[] b = bytes("x");
    fs.put(BlobKey.of("a/b/file"), new ByteArrayInputStream(b), 1, BlobMetadata.binary());
    ExecutorService pool = Executors.newFixedThreadPool(3);
    try {
      CyclicBarrier start = new CyclicBarrier(3);
      List<Future<?>> churn = new ArrayList<>();
      for (int t = 0; t < 2; t++) {
        int thread = t;
        churn.add(
            pool.submit(
                () -> {
                  start.await();
                  for (int i = 0; i < 300; i++) {
                    BlobKey k = BlobKey.of("a/b/x" + thread + "/y/z" + i);
                    fs.put(k, new ByteArrayInputStream(b), 1, BlobMetadata.binary());
                    fs.delete(k);
                  }
                  return null;
                }));
      }
      Future<List<Throwable>> refused =
          pool.submit(
              () -> {
                start.await();
                List<Throwable> answers = new ArrayList<>();
                for (int i = 0; i < 300; i++) {
                  try {
                    fs.put(
                        BlobKey.of("a/b/file/under" + i),
                        new ByteArrayInputStream(b),
                        1,
                        BlobMetadata.binary());
                    answers.add(null);
                  } catch (RuntimeException e) {
                    answers.add(e);
                  }
                }
                return answers;
              });
      for (Future<?> f : churn) {
        f.get(60, TimeUnit.SECONDS);
      }
      assertThat(refused.get(60, TimeUnit.SECONDS))
          .hasSize(300)
          .allSatisfy(e -> assertThat(e).isInstanceOf(InvalidInputException.class));
    } finally {
      pool.shutdownNow();
    }
  }
}
