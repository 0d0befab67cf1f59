package dev.durabledeploy.examples.hostile;

import static dev.durabledeploy.examples.hostile.Blobs.bytes;
import static org.assertj.core.api.Assertions.assertThat;

import dev.durabledeploy.core.DurableDeploy;
import dev.durabledeploy.core.blob.FileSystemBlobStore;
import dev.durabledeploy.core.deploy.DeployService;
import dev.durabledeploy.core.deploy.Manifest;
import dev.durabledeploy.core.reconcile.DriftKind;
import dev.durabledeploy.engine.executor.ExecutorEngine;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.Store;
import dev.durabledeploy.spi.UploadPath;
import dev.durabledeploy.spi.blob.BlobStore;
import dev.durabledeploy.spi.exception.SiteLockLostException;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.spi.metadata.DeployState;
import dev.durabledeploy.store.postgres.PostgresStore;
import dev.durabledeploy.store.valkey.ValkeyStore;
import dev.durabledeploy.testkit.fixtures.PostgresExtension;
import dev.durabledeploy.testkit.fixtures.TcpProxy;
import dev.durabledeploy.testkit.fixtures.ValkeyExtension;
import java.io.ByteArrayInputStream;
import java.net.URI;
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
 * A re-upload (a replacement, which runs under the site lock) whose host is cut off from the store
 * while its write is in flight: the lock expires, another host finalizes the deploy, then the write
 * lands. A lease lock cannot fence a write already in flight and the blob stores take no fencing
 * token, so this is the one stated exception to "a finalized deploy's bytes never change" (README,
 * Guarantees): the upload must not report success, and the reconciler must report the change.
 */
class LockLostReplaceHostileTest {

  @RegisterExtension static final PostgresExtension PG = new PostgresExtension();
  @RegisterExtension static final ValkeyExtension VALKEY = new ValkeyExtension();
  static final AtomicInteger SCHEMAS = new AtomicInteger();
  static final SiteId SITE = SiteId.of("hostile-fence");
  static final Duration LOCK_TTL = Duration.ofSeconds(2);

  @TempDir Path dir;

  record Hosts(String name, Function<TcpProxy, Store> cutOff, Store direct, URI server) {
    @Override
    public String toString() {
      return name;
    }
  }

  static Stream<Arguments> stores() {
    String schema = "hfence_" + SCHEMAS.incrementAndGet();
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

  static PostgresStore postgres(String jdbcUrl, String schema) {
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

  static ValkeyStore valkey(String uri, String namespace) {
    return ValkeyStore.builder().uri(uri).namespace(namespace).lockTtl(LOCK_TTL).build();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("stores")
  @DisplayName(
      "a replacement in flight when its host loses the lock fails saying the bytes may have"
          + " changed, and the reconciler reports CONTENT_CHANGED")
  void replacementInFlightWhenTheLockIsLost(Hosts hosts) throws Exception {
    Path root = dir.resolve("blobs");
    HookedBlobStore blobsA = new HookedBlobStore(new FileSystemBlobStore(root));
    BlobStore blobsB = new FileSystemBlobStore(root);
    try (TcpProxy proxy = TcpProxy.to(hosts.server());
        Store cutOff = hosts.cutOff().apply(proxy);
        Store direct = hosts.direct();
        DurableDeploy hostA =
            DurableDeploy.builder()
                .store(cutOff)
                .blobStore(blobsA)
                .engine(ExecutorEngine.builder().build())
                .instanceId("host-a")
                .build();
        DurableDeploy hostB =
            DurableDeploy.builder()
                .store(direct)
                .blobStore(blobsB)
                .engine(ExecutorEngine.builder().build())
                .instanceId("host-b")
                .build()) {
      DeployService a = hostA.deploys();
      DeployService b = hostB.deploys();
      Deploy d = b.init(SITE, null);
      byte[] v1 = bytes("<h1>v1</h1>");
      b.upload(SITE, d.id(), UploadPath.INDEX_HTML, new ByteArrayInputStream(v1), v1.length);

      AtomicReference<Object> finalizedByB = new AtomicReference<>();
      // Host A's replacement has taken the lock, checked the deploy is pending and started its
      // write; right then A is cut off (a network partition, a long pause) until B has finalized.
      blobsA.before(
          HookedBlobStore.Op.PUT,
          k -> k.endsWith("/index.html"),
          1,
          () -> {
            proxy.cut();
            try {
              finalizedByB.set(
                  b.finalizeDeploy(SITE, d.id(), AliasName.PRODUCTION, Manifest.of("index.html")));
            } catch (RuntimeException e) {
              finalizedByB.set(e);
            } finally {
              proxy.restore();
            }
          });
      byte[] v2 = bytes("<h1>v2 evil</h1>");
      Object replaced;
      try {
        replaced =
            a.upload(SITE, d.id(), UploadPath.INDEX_HTML, new ByteArrayInputStream(v2), v2.length);
      } catch (RuntimeException e) {
        replaced = e;
      }
      assertThat(finalizedByB.get())
          .as("B's finalize")
          .isInstanceOf(dev.durabledeploy.core.deploy.Finalized.class);
      assertThat(direct.metadata().findDeploy(SITE, d.id()).orElseThrow().state())
          .isEqualTo(DeployState.ACTIVE);
      // Never a success: A says its write may have landed after the lock was gone.
      assertThat(replaced)
          .as("A's replacement")
          .isInstanceOfSatisfying(
              SiteLockLostException.class,
              e ->
                  assertThat(e.getMessage())
                      .contains("index.html")
                      .contains("may have changed")
                      .contains("CONTENT_CHANGED"));
      // The documented limit: the write landed after B verified v1, and the reconciler says so.
      var drift = hostB.reconciler().reconcile(SITE, false);
      assertThat(Blobs.served(blobsB, SITE, d.id(), "index.html")).contains("<h1>v2 evil</h1>");
      assertThat(drift.drifts())
          .singleElement()
          .satisfies(
              found -> {
                assertThat(found.kind()).isEqualTo(DriftKind.CONTENT_CHANGED);
                assertThat(found.subject()).isEqualTo(d.id().value() + "/index.html");
              });
    }
  }
}
