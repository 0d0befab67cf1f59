package dev.durabledeploy.examples.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import dev.durabledeploy.core.DeployOptions;
import dev.durabledeploy.core.DurableDeploy;
import dev.durabledeploy.core.deploy.Manifest;
import dev.durabledeploy.engine.executor.ExecutorEngine;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.UploadPath;
import dev.durabledeploy.spi.blob.BlobInfo;
import dev.durabledeploy.spi.metadata.AliasExpectation;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.store.postgres.PostgresStore;
import dev.durabledeploy.testkit.GatedInputStream;
import dev.durabledeploy.testkit.fixtures.PostgresExtension;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** A client whose re-upload stream stalls must not hold its site's lock while it stalls. */
@DisplayName("hostile: a stalled re-upload stream and the site's lock")
class HostileBlockedUploadTest {

  @RegisterExtension static final PostgresExtension PG = new PostgresExtension();
  private static final SiteId SITE = SiteId.of("slow-client");

  @TempDir Path dir;

  @Test
  @DisplayName(
      "a re-upload stalled in read: init, finalize and promote on the site go on meanwhile")
  void stalledReplaceHoldsNoLock() throws Exception {
    try (PostgresStore store =
            PostgresStore.builder()
                .jdbcUrl(PG.jdbcUrl())
                .username(PG.username())
                .password(PG.password())
                .schema(HostileSupport.newSchema("slow"))
                .lockTtl(Duration.ofSeconds(1))
                .migrateOnStart(true)
                .build();
        DurableDeploy plane =
            DurableDeploy.builder()
                .store(store)
                .blobRoot(dir.resolve("b"))
                .options(DeployOptions.builder().lockTimeout(Duration.ofSeconds(3)).build())
                .engine(ExecutorEngine.builder().build())
                .build()) {
      byte[] v1 = "<h1>v1</h1>".getBytes(StandardCharsets.UTF_8);
      Deploy pending = plane.deploys().init(SITE, null);
      plane
          .deploys()
          .upload(
              SITE, pending.id(), UploadPath.INDEX_HTML, new ByteArrayInputStream(v1), v1.length);

      byte[] v2 = "<h1>v2 replaced</h1>".getBytes(StandardCharsets.UTF_8);
      GatedInputStream slow = new GatedInputStream(v2, Duration.ofMinutes(2));
      CompletableFuture<BlobInfo> replace =
          CompletableFuture.supplyAsync(
              () ->
                  plane
                      .deploys()
                      .upload(SITE, pending.id(), UploadPath.INDEX_HTML, slow, v2.length));
      slow.awaitReading(Duration.ofSeconds(10));

      long started = System.nanoTime();
      Deploy other = plane.deploys().init(SITE, null);
      plane
          .deploys()
          .upload(SITE, other.id(), UploadPath.INDEX_HTML, new ByteArrayInputStream(v1), v1.length);
      plane
          .deploys()
          .finalizeDeploy(SITE, other.id(), AliasName.PRODUCTION, Manifest.of("index.html"));
      plane.deploys().promote(SITE, other.id(), AliasName.PREVIEW, AliasExpectation.ANY);
      long took = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
      assertThat(took)
          .as("ms for init+upload+finalize+promote beside the stalled stream")
          .isLessThan(3000);
      assertThat(replace).isNotDone();

      slow.open();
      BlobInfo replaced = replace.get(30, TimeUnit.SECONDS);
      assertThat(replaced.size()).isEqualTo(v2.length);
      plane
          .deploys()
          .finalizeDeploy(SITE, pending.id(), AliasName.of("staging"), Manifest.of("index.html"));
    }
  }
}
