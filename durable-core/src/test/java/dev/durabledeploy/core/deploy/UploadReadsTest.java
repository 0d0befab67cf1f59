package dev.durabledeploy.core.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.durabledeploy.core.DeployOptions;
import dev.durabledeploy.core.DurableDeploy;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.Store;
import dev.durabledeploy.spi.UploadPath;
import dev.durabledeploy.spi.blob.BlobContent;
import dev.durabledeploy.spi.exception.DeployStateException;
import dev.durabledeploy.spi.metadata.Alias;
import dev.durabledeploy.spi.metadata.AuditEntry;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.spi.metadata.MetadataStore;
import dev.durabledeploy.spi.metadata.RowSelection;
import dev.durabledeploy.spi.metadata.Site;
import dev.durabledeploy.spi.metadata.SiteRows;
import dev.durabledeploy.spi.metadata.Tombstone;
import dev.durabledeploy.store.memory.InMemoryBlobStore;
import dev.durabledeploy.store.memory.InMemoryStore;
import dev.durabledeploy.store.memory.InMemoryWorkflowEngine;
import dev.durabledeploy.testkit.MutableClock;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

@DisplayName("an upload's reads of its deploy: fresh before and after the write, and shared")
class UploadReadsTest {

  private static final SiteId SITE = SiteId.of("reads-site");

  /** The in-memory metadata store, counting findDeploy and able to hold the first one. */
  static final class Counting implements MetadataStore {
    final MetadataStore delegate;
    final AtomicInteger finds = new AtomicInteger();
    volatile CountDownLatch holdFirst;
    final CountDownLatch firstHeld = new CountDownLatch(1);

    Counting(MetadataStore delegate) {
      this.delegate = delegate;
    }

    @Override
    public <T> T inSite(String action, SiteId site, RowSelection rows, Function<SiteRows, T> work) {
      return delegate.inSite(action, site, rows, work);
    }

    @Override
    public Optional<Deploy> findDeploy(SiteId site, DeployId id) {
      CountDownLatch hold = holdFirst;
      if (finds.incrementAndGet() == 1 && hold != null) {
        firstHeld.countDown();
        try {
          hold.await(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      return delegate.findDeploy(site, id);
    }

    @Override
    public List<Deploy> listDeploys(SiteId site) {
      return delegate.listDeploys(site);
    }

    @Override
    public Optional<Alias> findAlias(SiteId site, AliasName alias) {
      return delegate.findAlias(site, alias);
    }

    @Override
    public List<Alias> listAliases(SiteId site) {
      return delegate.listAliases(site);
    }

    @Override
    public Optional<Tombstone> findTombstone(SiteId site, DeployId id) {
      return delegate.findTombstone(site, id);
    }

    @Override
    public List<Tombstone> listTombstones(SiteId site) {
      return delegate.listTombstones(site);
    }

    @Override
    public List<Tombstone> listExpiredTombstones(Instant cutoff, int limit) {
      return delegate.listExpiredTombstones(cutoff, limit);
    }

    @Override
    public List<SiteId> listSites(SiteId after, int limit) {
      return delegate.listSites(after, limit);
    }

    @Override
    public Optional<Site> findSite(SiteId site) {
      return delegate.findSite(site);
    }

    @Override
    public List<Site> listRegisteredSites(SiteId after, int limit) {
      return delegate.listRegisteredSites(after, limit);
    }

    @Override
    public List<Site> listExpiredSites(Instant cutoff, int limit) {
      return delegate.listExpiredSites(cutoff, limit);
    }

    @Override
    public List<AuditEntry> auditLog(SiteId site, int limit) {
      return delegate.auditLog(site, limit);
    }
  }

  private final MutableClock clock = new MutableClock();
  private final List<DurableDeploy> planes = new ArrayList<>();
  private InMemoryStore memory;
  private InMemoryBlobStore blobs;
  private Counting counting;

  @BeforeEach
  void build() {
    memory = new InMemoryStore(clock);
    blobs = new InMemoryBlobStore(clock);
    counting = new Counting(memory.metadata());
  }

  @AfterEach
  void close() {
    planes.forEach(DurableDeploy::close);
  }

  /** A host of the plane: its own process memory, the shared stores. */
  private DeployService host(String id) {
    Store store = Store.of(counting, memory.outbox(), memory.siteLocks(), memory.jobLeases());
    DurableDeploy plane =
        DurableDeploy.builder()
            .store(store)
            .blobStore(blobs)
            .engine(new InMemoryWorkflowEngine())
            .clock(clock)
            .random(new SplittableRandom(5))
            .sleeper(d -> {})
            .options(DeployOptions.defaults())
            .instanceId(id)
            .build();
    planes.add(plane);
    return plane.deploys();
  }

  private static void upload(DeployService host, Deploy d, String path) {
    byte[] b = ("<p>" + path + "</p>").getBytes(StandardCharsets.UTF_8);
    host.upload(SITE, d.id(), UploadPath.of(path), new ByteArrayInputStream(b), b.length);
  }

  @Test
  @DisplayName(
      "uploads one after the other read the deploy twice each: the early check, which no memo of an"
          + " earlier read stands in for, and the fresh read after the write")
  void twoReadsPerUpload() {
    DeployService host = host("host-a");
    Deploy d = host.init(SITE, null);
    upload(host, d, "index.html");
    counting.finds.set(0);
    for (int i = 0; i < 10; i++) {
      upload(host, d, "f" + i + ".html");
    }
    assertThat(counting.finds.get()).isEqualTo(20);
  }

  @Test
  @DisplayName(
      "an upload into a deploy another host finalized a moment ago is refused and leaves the active"
          + " deploy as finalize verified it")
  void anotherHostFinalized() {
    DeployService a = host("host-a");
    DeployService b = host("host-b");
    Deploy d = a.init(SITE, null);
    upload(a, d, "index.html");
    b.finalizeDeploy(SITE, d.id(), AliasName.PRODUCTION, Manifest.of("index.html"));
    assertThatThrownBy(() -> upload(a, d, "late.html")).isInstanceOf(DeployStateException.class);
    assertThat(blobs.stat(BlobLayout.deploy(SITE, d.id()).resolve("late.html"))).isEmpty();
    try (BlobContent c = blobs.get(BlobLayout.marker(SITE, d.id())).orElseThrow()) {
      assertThat(Marker.parse(c.readAllBytes()).verified().keySet()).containsExactly("index.html");
    }
  }

  @Test
  @DisplayName("this host's own finalize refuses later uploads at once, before they send a byte")
  void ownSealRefusesEarly() {
    DeployService a = host("host-a");
    Deploy d = a.init(SITE, null);
    upload(a, d, "index.html");
    a.finalizeDeploy(SITE, d.id(), AliasName.PRODUCTION, Manifest.of("index.html"));
    assertThatThrownBy(() -> upload(a, d, "late.html"))
        .isInstanceOf(DeployStateException.class)
        .hasMessageContaining("uploads go to a new deploy");
    assertThat(blobs.stat(BlobLayout.deploy(SITE, d.id()).resolve("late.html"))).isEmpty();
  }

  @Test
  @DisplayName(
      "callers that ask while a read is in flight share the next read, which began after they"
          + " asked, and never take the one in flight")
  void sharedFreshReads() throws Exception {
    DeployService host = host("host-a");
    Deploy d = host.init(SITE, null);
    DeployReads reads = new DeployReads(counting);
    counting.finds.set(0);
    counting.holdFirst = new CountDownLatch(1);
    ExecutorService pool = Executors.newFixedThreadPool(4);
    try {
      Future<DeployReads.Read> first = pool.submit(() -> reads.fresh(SITE, d.id()));
      assertThat(counting.firstHeld.await(10, TimeUnit.SECONDS)).isTrue();
      // The first read is in flight and has not read yet. The deploy changes; the later callers
      // ask now, so they must see the change.
      host.delete(SITE, d.id());
      counting.finds.set(1);
      List<Future<DeployReads.Read>> later = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        later.add(pool.submit(() -> reads.fresh(SITE, d.id())));
      }
      counting.holdFirst.countDown();
      first.get(10, TimeUnit.SECONDS);
      for (Future<DeployReads.Read> f : later) {
        assertThat(f.get(10, TimeUnit.SECONDS).deploy()).isEmpty();
      }
      // The held one, then at most one per later caller, and fewer when they overlapped.
      assertThat(counting.finds.get()).isBetween(2, 4);
    } finally {
      pool.shutdownNow();
    }
  }
}
