package dev.durabledeploy.store.valkey;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.durabledeploy.spi.Actor;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.metadata.Alias;
import dev.durabledeploy.spi.metadata.AliasRow;
import dev.durabledeploy.spi.metadata.MetadataStore;
import dev.durabledeploy.spi.metadata.RowSelection;
import dev.durabledeploy.spi.outbox.StandardEvents;
import dev.durabledeploy.store.memory.InMemoryStore;
import dev.durabledeploy.testkit.MutableClock;
import dev.durabledeploy.testkit.fixtures.ValkeyExtension;
import dev.durabledeploy.testkit.fixtures.ValkeyServer;
import dev.durabledeploy.testkit.tck.Rows;
import java.lang.reflect.Proxy;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

@DisplayName("site metadata cache and change bus")
class CachingMetadataStoreTest {

  @RegisterExtension static final ValkeyExtension VALKEY = new ValkeyExtension();

  private static final SiteId SITE = SiteId.of("site-a");
  private static final Actor ACTOR = Actor.of("user:test");
  private static final AliasName PROD = AliasName.PRODUCTION;

  private static ValkeyStore host(String namespace) {
    return ValkeyStore.builder().uri(VALKEY.uri().toString()).namespace(namespace).build();
  }

  /** The shared database both hosts read: an in-memory store with two live deploys. */
  private static MetadataStore database(Clock clock) {
    MetadataStore db = new InMemoryStore(clock).metadata();
    for (int n = 1; n <= 2; n++) {
      DeployId id = DeployId.forSha(clock.instant().plusSeconds(n), "abc000" + n);
      Rows.pending(db, SITE, id);
      Rows.alias(db, SITE, PROD, id);
    }
    return db;
  }

  /**
   * Moves production to {@code target} by compare-and-set in one unit of work through {@code
   * metadata}: refused (nothing written) unless the alias is still at {@code expectedVersion}.
   */
  private static Alias moveAlias(MetadataStore metadata, DeployId target, long expectedVersion) {
    Alias moved =
        metadata.inSite(
            "alias.move",
            SITE,
            RowSelection.of(List.of(target), List.of()),
            s -> {
              AliasRow row = s.aliases().get(PROD);
              if (row == null || row.version() != expectedVersion) {
                throw new IllegalStateException(
                    "production is at " + row + ", not version " + expectedVersion);
              }
              AliasRow next = new AliasRow(target, row.version() + 1, s.now());
              s.putAlias(PROD, next);
              s.audit(ACTOR, "alias.move", "alias:" + PROD, row.target().value(), target.value());
              s.emit(StandardEvents.aliasChanged(SITE, PROD, target, next.version(), row.target()));
              return next.toAlias(SITE, PROD);
            });
    assertThat(moved.version()).isEqualTo(expectedVersion + 1);
    return moved;
  }

  private static DeployId first(MetadataStore db) {
    return db.listDeploys(SITE).get(0).id();
  }

  @Test
  @DisplayName("100 concurrent misses of one site cost one load")
  void singleFlight() throws Exception {
    MutableClock clock = new MutableClock();
    MetadataStore db = database(clock);
    CountDownLatch release = new CountDownLatch(1);
    AtomicInteger storeReads = new AtomicInteger();
    MetadataStore slow =
        (MetadataStore)
            Proxy.newProxyInstance(
                MetadataStore.class.getClassLoader(),
                new Class<?>[] {MetadataStore.class},
                (proxy, method, args) -> {
                  if (method.getName().equals("listAliases")) {
                    storeReads.incrementAndGet();
                    assertThat(release.await(30, TimeUnit.SECONDS)).isTrue();
                  }
                  return method.invoke(db, args);
                });
    int callers = 100;
    ExecutorService pool = Executors.newFixedThreadPool(callers);
    try (ValkeyStore host = host(ValkeyExtension.newNamespace())) {
      CachingMetadataStore cache = host.cached(slow);
      List<Thread> threads = new ArrayList<>();
      List<Future<List<Alias>>> results = new ArrayList<>();
      for (int i = 0; i < callers; i++) {
        results.add(
            pool.submit(
                () -> {
                  synchronized (threads) {
                    threads.add(Thread.currentThread());
                  }
                  return cache.listAliases(SITE);
                }));
      }
      // Every caller is parked: one in the store's read, 99 waiting for its result.
      await()
          .atMost(Duration.ofSeconds(30))
          .until(
              () -> {
                synchronized (threads) {
                  return threads.size() == callers
                      && threads.stream()
                          .allMatch(
                              t ->
                                  t.getState() == Thread.State.WAITING
                                      || t.getState() == Thread.State.TIMED_WAITING);
                }
              });
      release.countDown();
      for (Future<List<Alias>> f : results) {
        assertThat(f.get(30, TimeUnit.SECONDS)).hasSize(1);
      }
      assertThat(storeReads).hasValue(1);
      assertThat(cache.loads()).isEqualTo(1);
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  @DisplayName("a write on one host drops the site from every host's cache; reads see it")
  void invalidationAcrossHosts() {
    MutableClock clock = new MutableClock();
    MetadataStore db = database(clock);
    String namespace = ValkeyExtension.newNamespace();
    try (ValkeyStore a = host(namespace);
        ValkeyStore b = host(namespace)) {
      CachingMetadataStore cacheA = a.cached(db);
      CachingMetadataStore cacheB = b.cached(db);
      Alias before = cacheA.findAlias(SITE, PROD).orElseThrow();
      cacheA.listAliases(SITE);
      assertThat(cacheA.loads()).isEqualTo(1);
      moveAlias(cacheB, first(db), before.version());
      // B reads its own write at once; A follows through the bus.
      assertThat(cacheB.findAlias(SITE, PROD).orElseThrow().target()).isEqualTo(first(db));
      await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> cacheA.findAlias(SITE, PROD).orElseThrow().target().equals(first(db)));
      assertThat(cacheA.loads()).isEqualTo(2);
    }
  }

  @Test
  @DisplayName("a host that lost the bus reads through while away and starts cold on reconnect")
  void reconnectDropsEverything() {
    ValkeyServer server = ValkeyExtension.server();
    MutableClock clock = new MutableClock();
    MetadataStore db = database(clock);
    try (ValkeyStore a = host(ValkeyExtension.newNamespace())) {
      CachingMetadataStore cache = a.cached(db);
      Alias before = cache.findAlias(SITE, PROD).orElseThrow();
      server.stop();
      try {
        // Another host changes the site while the bus is down: the message never arrives.
        moveAlias(db, first(db), before.version());
        await()
            .atMost(Duration.ofSeconds(10))
            .until(() -> cache.findAlias(SITE, PROD).orElseThrow().target().equals(first(db)));
      } finally {
        server.restart();
      }
      // Back on the bus, caching resumes: two reads in a row cost at most one load.
      await()
          .atMost(Duration.ofSeconds(30))
          .until(
              () -> {
                long loads = cache.loads();
                cache.listAliases(SITE);
                cache.listAliases(SITE);
                return cache.loads() - loads <= 1;
              });
      assertThat(cache.findAlias(SITE, PROD).orElseThrow().target()).isEqualTo(first(db));
    }
  }
}
