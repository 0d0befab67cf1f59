package dev.durabledeploy.examples.hostile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.zaxxer.hikari.HikariDataSource;
import dev.durabledeploy.core.DurableDeploy;
import dev.durabledeploy.core.blob.FileSystemBlobStore;
import dev.durabledeploy.core.deploy.BlobLayout;
import dev.durabledeploy.core.deploy.Manifest;
import dev.durabledeploy.engine.executor.ExecutorEngine;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.UploadPath;
import dev.durabledeploy.spi.exception.SiteLockLostException;
import dev.durabledeploy.spi.exception.TransientStoreException;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.store.postgres.PostgresStore;
import dev.durabledeploy.testkit.fixtures.PostgresExtension;
import dev.durabledeploy.testkit.fixtures.PostgresServer;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** PostgreSQL stopped and restarted while a saga on the host's pool is between two steps. */
@DisplayName("hostile: PostgreSQL restarted mid-saga on a host pool")
class HostileRestartMidSagaTest {

  @RegisterExtension static final PostgresExtension PG = new PostgresExtension();
  private static final SiteId SITE = SiteId.of("restarted");
  private static final SiteId OTHER = SiteId.of("restarted-other");

  @TempDir Path dir;

  @Test
  @DisplayName(
      "finalize paused at its marker while the database is down past the lock TTL: it stops with"
          + " SiteLockLostException, a re-run completes, the relay projects, the pool is clean")
  void restartMidFinalize() throws Exception {
    PostgresServer server = PostgresExtension.server();
    try (HikariDataSource pool =
        HostileSupport.hostPool(PG, 3, c -> c.setConnectionTimeout(1000))) {
      PostgresStore store =
          PostgresStore.builder()
              .dataSource(pool)
              .schema(HostileSupport.newSchema("restart"))
              .lockTtl(Duration.ofSeconds(2))
              .migrateOnStart(true)
              .build();
      StallingBlobStore blobs = new StallingBlobStore(new FileSystemBlobStore(dir.resolve("b")));
      try (DurableDeploy plane =
          DurableDeploy.builder()
              .store(store)
              .blobStore(blobs)
              .engine(ExecutorEngine.builder().build())
              .build()
              .start()) {
        Deploy d = plane.deploys().init(SITE, null);
        byte[] html = "<h1>r</h1>".getBytes(StandardCharsets.UTF_8);
        plane
            .deploys()
            .upload(
                SITE, d.id(), UploadPath.INDEX_HTML, new ByteArrayInputStream(html), html.length);
        StallingBlobStore.Stall stall =
            blobs.stallPut(k -> k.equals(BlobLayout.marker(SITE, d.id())));
        CompletableFuture<Object> finalize =
            CompletableFuture.supplyAsync(
                () ->
                    plane
                        .deploys()
                        .finalizeDeploy(
                            SITE, d.id(), AliasName.PRODUCTION, Manifest.of("index.html")));
        stall.awaitEntered();
        server.stop();
        try {
          long past = System.nanoTime() + TimeUnit.SECONDS.toNanos(4);
          await().atMost(Duration.ofSeconds(10)).until(() -> System.nanoTime() > past);
        } finally {
          server.restart();
        }
        stall.release();
        Object outcome;
        try {
          outcome = finalize.get(60, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
          outcome = e.getCause();
        }
        assertThat(outcome).isInstanceOf(SiteLockLostException.class);
        assertThat(store.metadata().findAlias(SITE, AliasName.PRODUCTION)).isEmpty();
        await("finalize completes when run again")
            .atMost(Duration.ofSeconds(60))
            .ignoreExceptionsInstanceOf(TransientStoreException.class)
            .until(
                () ->
                    plane
                        .deploys()
                        .finalizeDeploy(
                            SITE, d.id(), AliasName.PRODUCTION, Manifest.of("index.html"))
                        .alias()
                        .target()
                        .equals(d.id()));
        Deploy o = plane.deploys().init(OTHER, null);
        plane
            .deploys()
            .upload(
                OTHER, o.id(), UploadPath.INDEX_HTML, new ByteArrayInputStream(html), html.length);
        plane
            .deploys()
            .finalizeDeploy(OTHER, o.id(), AliasName.PRODUCTION, Manifest.of("index.html"));
        for (SiteId s : new SiteId[] {SITE, OTHER}) {
          String target =
              store.metadata().findAlias(s, AliasName.PRODUCTION).orElseThrow().target().value();
          await("the relay projects " + s + " after the restart")
              .atMost(Duration.ofSeconds(60))
              .until(() -> HostilePoolBudgetTest.projected(plane, s).orElse("").contains(target));
        }
      } finally {
        store.close();
      }
      await("the host's pool is whole and clean")
          .atMost(Duration.ofSeconds(30))
          .ignoreExceptions()
          .untilAsserted(() -> HostileSupport.assertAllPristine(PG, pool));
    }
  }
}
