package dev.durabledeploy.examples.coordination;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.durabledeploy.core.DurableDeploy;
import dev.durabledeploy.core.blob.FileSystemBlobStore;
import dev.durabledeploy.core.deploy.DeployService;
import dev.durabledeploy.core.deploy.Finalized;
import dev.durabledeploy.core.deploy.Manifest;
import dev.durabledeploy.engine.executor.ExecutorEngine;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.Store;
import dev.durabledeploy.spi.UploadPath;
import dev.durabledeploy.spi.exception.SiteLockLostException;
import dev.durabledeploy.spi.exception.TransientStoreException;
import dev.durabledeploy.spi.lock.SiteLock;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.spi.metadata.DeployState;
import dev.durabledeploy.store.postgres.PostgresStore;
import dev.durabledeploy.store.valkey.ValkeyStore;
import dev.durabledeploy.testkit.FaultInjectingBlobStore;
import dev.durabledeploy.testkit.fixtures.PostgresExtension;
import dev.durabledeploy.testkit.fixtures.TcpProxy;
import dev.durabledeploy.testkit.fixtures.ValkeyExtension;
import java.io.ByteArrayInputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Item 5 of issue 21 (fencing): a host cut off from its store for longer than the site lock's time
 * to live loses the lock to another host. When it comes back in the middle of a saga, the saga must
 * stop before its next side effect instead of carrying on beside the new holder.
 */
@DisplayName("a saga that lost its site lock stops before its next side effect")
class FencingTest {

  @RegisterExtension static final PostgresExtension PG = new PostgresExtension();
  @RegisterExtension static final ValkeyExtension VALKEY = new ValkeyExtension();
  private static final AtomicInteger SCHEMAS = new AtomicInteger();
  private static final SiteId SITE = SiteId.of("fenced-site");
  static final Duration LOCK_TTL = Duration.ofSeconds(2);

  @TempDir Path dir;

  /** Two hosts on one store: the first through a proxy the test can cut, the second direct. */
  record Hosts(String name, Function<TcpProxy, Store> cutOff, Store direct, URI server) {
    @Override
    public String toString() {
      return name;
    }
  }

  static Stream<Arguments> stores() {
    String schema = "fence_" + SCHEMAS.incrementAndGet();
    String namespace = ValkeyExtension.newNamespace();
    return Stream.of(
        Arguments.of(
            new Hosts(
                "postgres",
                proxy -> postgres(proxy.jdbcUrl(PG.jdbcUrl()), schema),
                postgres(PG.jdbcUrl(), schema),
                URI.create(PG.jdbcUrl().substring("jdbc:".length())))),
        Arguments.of(
            new Hosts(
                "valkey",
                proxy -> valkey(proxy.uri(VALKEY.uri()).toString(), namespace),
                valkey(VALKEY.uri().toString(), namespace),
                VALKEY.uri())));
  }

  private static PostgresStore postgres(String jdbcUrl, String schema) {
    return PostgresStore.builder()
        .jdbcUrl(jdbcUrl)
        .username(PG.username())
        .password(PG.password())
        .schema(schema)
        .connectionTimeout(Duration.ofSeconds(1))
        .lockTtl(LOCK_TTL)
        .migrateOnStart(true)
        .build();
  }

  private static ValkeyStore valkey(String uri, String namespace) {
    return ValkeyStore.builder().uri(uri).namespace(namespace).lockTtl(LOCK_TTL).build();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("stores")
  @DisplayName("finalize cut off from the store mid-saga stops before its metadata commit")
  void finalizeStopsAfterLosingItsLock(Hosts hosts) throws Exception {
    FaultInjectingBlobStore blobs =
        new FaultInjectingBlobStore(new FileSystemBlobStore(dir.resolve("blobs")));
    try (TcpProxy proxy = TcpProxy.to(hosts.server());
        Store cutOff = hosts.cutOff().apply(proxy);
        Store direct = hosts.direct();
        DurableDeploy plane =
            DurableDeploy.builder()
                .store(cutOff)
                .blobStore(blobs)
                .engine(ExecutorEngine.builder().build())
                .build()) {
      DeployService deploys = plane.deploys();
      Deploy d = deploys.init(SITE, null);
      byte[] html = "<h1>fenced</h1>".getBytes(StandardCharsets.UTF_8);
      deploys.upload(
          SITE, d.id(), UploadPath.INDEX_HTML, new ByteArrayInputStream(html), html.length);

      AtomicReference<SiteLock> taken = new AtomicReference<>();
      // Finalize lists the prefix (blob call 1), then writes the marker (call 2). Right before the
      // marker, the host is cut off until another host holds the site's lock.
      blobs.onCall(
          2,
          () -> {
            proxy.cut();
            try {
              taken.set(
                  await("another host takes the site lock while this one is cut off")
                      .atMost(LOCK_TTL.multipliedBy(3).plusSeconds(30))
                      .ignoreExceptions()
                      .until(
                          () -> direct.siteLocks().acquire(SITE, Duration.ofSeconds(1)),
                          l -> true));
            } finally {
              proxy.restore();
            }
          });
      assertThatThrownBy(
              () ->
                  deploys.finalizeDeploy(
                      SITE, d.id(), AliasName.PRODUCTION, Manifest.of("index.html")))
          .isInstanceOfSatisfying(
              SiteLockLostException.class,
              e -> {
                assertThat(e.site()).isEqualTo(SITE);
                assertThat(e.getMessage()).contains("finalize").contains(SITE.value());
              });
      try (SiteLock newHolder = taken.get()) {
        assertThat(newHolder.isHeld()).isTrue();
        assertThat(direct.metadata().findDeploy(SITE, d.id()).orElseThrow().state())
            .as("the fenced saga committed nothing after its seal, its first step before the cut")
            .isEqualTo(DeployState.FINALIZING);
        assertThat(direct.metadata().findAlias(SITE, AliasName.PRODUCTION)).isEmpty();
      }
      // Once the other host is done, running finalize again completes the saga (V9), as soon as
      // the cut-off host has reconnected.
      blobs.heal();
      Finalized done =
          await("finalize completes once the host has reconnected")
              .atMost(Duration.ofSeconds(60))
              .ignoreExceptionsInstanceOf(TransientStoreException.class)
              .until(
                  () ->
                      deploys.finalizeDeploy(
                          SITE, d.id(), AliasName.PRODUCTION, Manifest.of("index.html")),
                  f -> true);
      assertThat(done.alias().target()).isEqualTo(d.id());
    }
  }
}
