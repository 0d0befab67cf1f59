package dev.durabledeploy.examples.hostile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.durabledeploy.core.DeployOptions;
import dev.durabledeploy.core.DurableDeploy;
import dev.durabledeploy.core.blob.FileSystemBlobStore;
import dev.durabledeploy.core.deploy.BlobLayout;
import dev.durabledeploy.core.deploy.DeployService;
import dev.durabledeploy.core.deploy.Manifest;
import dev.durabledeploy.engine.executor.ExecutorEngine;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.UploadPath;
import dev.durabledeploy.spi.blob.BlobStore;
import dev.durabledeploy.spi.lock.SiteLock;
import dev.durabledeploy.spi.metadata.Alias;
import dev.durabledeploy.spi.metadata.AliasExpectation;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.store.postgres.PostgresStore;
import dev.durabledeploy.testkit.fixtures.PostgresExtension;
import dev.durabledeploy.testkit.fixtures.TcpProxy;
import java.io.ByteArrayInputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * A holder frozen inside a saga step (a GC pause, a stalled S3 call) past the lock's time to live,
 * then resumed, while another host took the site's lock and did its own work. Two hosts share one
 * database and one bucket; host A reaches the database through a proxy the test cuts (its lock then
 * expires as it would in a pause), host B directly.
 */
@DisplayName("hostile: a frozen holder resumed after another host took its site")
class HostileFencingTest {

  @RegisterExtension static final PostgresExtension PG = new PostgresExtension();
  private static final SiteId SITE = SiteId.of("frozen");
  private static final Duration LOCK_TTL = Duration.ofSeconds(2);

  @TempDir Path dir;

  private static PostgresStore store(String jdbcUrl, String schema) {
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

  private static DurableDeploy plane(PostgresStore store, BlobStore blobs) {
    return DurableDeploy.builder()
        .store(store)
        .blobStore(blobs)
        .options(
            DeployOptions.builder()
                .gcDebounce(Duration.ofMinutes(10), Duration.ofMinutes(20))
                .build())
        .engine(ExecutorEngine.builder().build())
        .build();
  }

  private static Deploy deploy(DeployService deploys, AliasName alias, String... files) {
    Deploy d = deploys.init(SITE, null);
    for (String f : files) {
      byte[] body = (f + " of " + d.id()).getBytes(StandardCharsets.UTF_8);
      deploys.upload(SITE, d.id(), UploadPath.of(f), new ByteArrayInputStream(body), body.length);
    }
    deploys.finalizeDeploy(SITE, d.id(), alias, Manifest.of(files));
    return d;
  }

  /** Waits until host B holds (and at once releases) the site's lock: A's lock has expired. */
  private static void awaitLockTakenOver(PostgresStore b) {
    await("host B can take the site's lock once A's expired")
        .atMost(LOCK_TTL.multipliedBy(3).plusSeconds(20))
        .ignoreExceptions()
        .until(
            () -> {
              try (SiteLock l = b.siteLocks().acquire(SITE, Duration.ofMillis(500))) {
                return l.isHeld();
              }
            });
  }

  @Test
  @DisplayName(
      "rollback on host B while host A's projection of the bad deploy is frozen in its put: the"
          + " bucket must end on the rollback's target")
  void rollbackSurvivesAFrozenProjection() throws Exception {
    String schema = HostileSupport.newSchema("fence");
    Path root = dir.resolve("bucket");
    URI server = URI.create(PG.jdbcUrl().substring("jdbc:".length()));
    try (TcpProxy proxy = TcpProxy.to(server);
        PostgresStore storeA = store(proxy.jdbcUrl(PG.jdbcUrl()), schema);
        PostgresStore storeB = store(PG.jdbcUrl(), schema)) {
      StallingBlobStore blobsA = new StallingBlobStore(new FileSystemBlobStore(root));
      try (DurableDeploy a = plane(storeA, blobsA).start();
          DurableDeploy b = plane(storeB, new FileSystemBlobStore(root))) {
        Deploy good = deploy(a.deploys(), AliasName.PRODUCTION, "index.html");
        Deploy bad = deploy(a.deploys(), AliasName.PREVIEW, "index.html");
        await("the projection shows the good deploy")
            .atMost(Duration.ofSeconds(30))
            .until(
                () ->
                    HostilePoolBudgetTest.projected(a, SITE)
                        .orElse("")
                        .contains(good.id().value()));

        // The bad deploy goes live; host A's projection of it freezes inside its put.
        StallingBlobStore.Stall frozen =
            blobsA.stallPut(k -> k.equals(BlobLayout.alias(SITE, AliasName.PRODUCTION)));
        a.deploys().promote(SITE, bad.id(), AliasName.PRODUCTION, AliasExpectation.ANY);
        frozen.awaitEntered();

        // Host A is gone for longer than the lock's TTL; host B rolls back and projects it.
        proxy.cut();
        awaitLockTakenOver(storeB);
        java.util.concurrent.atomic.AtomicInteger projectedOnB =
            new java.util.concurrent.atomic.AtomicInteger();
        b.events()
            .subscribe(
                e ->
                    e instanceof dev.durabledeploy.spi.events.OperationEvent.Succeeded s
                        && s.operation().equals("alias-project"),
                e -> projectedOnB.incrementAndGet());
        b.start();
        Alias rolledBack =
            b.deploys().rollback(SITE, AliasName.PRODUCTION, good.id(), AliasExpectation.ANY);
        assertThat(rolledBack.target()).isEqualTo(good.id());
        await("host B projects the rollback")
            .atMost(Duration.ofSeconds(60))
            .until(
                () ->
                    HostilePoolBudgetTest.projected(b, SITE)
                        .orElse("")
                        .contains(good.id().value()));

        // Host A stays frozen until its relay's claim on the promote's event ran out and host B
        // delivered that event again (a pause of about half a minute, as a long GC or VM stall).
        await("host B re-delivers the promote's event, whose claim host A lost")
            .atMost(Duration.ofSeconds(120))
            .until(() -> projectedOnB.get() >= 2);

        // Host A resumes.
        proxy.restore();
        frozen.release();
        frozen.awaitDone();

        DeployId live =
            storeB.metadata().findAlias(SITE, AliasName.PRODUCTION).orElseThrow().target();
        assertThat(live).isEqualTo(good.id());
        await("the bucket serves what the database says production is")
            .atMost(Duration.ofSeconds(20))
            .untilAsserted(
                () ->
                    assertThat(HostilePoolBudgetTest.projected(b, SITE).orElse(""))
                        .as("production.json after host A resumed")
                        .contains(good.id().value()));
      }
    }
  }

  @Test
  @DisplayName(
      "restore + promote on host B while host A's delete is frozen inside its move: the live"
          + " deploy keeps every file")
  void restoreSurvivesAFrozenDelete() throws Exception {
    String schema = HostileSupport.newSchema("fence");
    Path root = dir.resolve("bucket");
    URI server = URI.create(PG.jdbcUrl().substring("jdbc:".length()));
    try (TcpProxy proxy = TcpProxy.to(server);
        PostgresStore storeA = store(proxy.jdbcUrl(PG.jdbcUrl()), schema);
        PostgresStore storeB = store(PG.jdbcUrl(), schema)) {
      StallingBlobStore blobsA = new StallingBlobStore(new FileSystemBlobStore(root));
      FileSystemBlobStore blobsB = new FileSystemBlobStore(root);
      try (DurableDeploy a = plane(storeA, blobsA);
          DurableDeploy b = plane(storeB, blobsB)) {
        String[] files = {"index.html", "app.js", "style.css"};
        Deploy d = deploy(a.deploys(), AliasName.PREVIEW, files);
        deploy(a.deploys(), AliasName.PREVIEW, "index.html"); // d is no longer aliased

        StallingBlobStore.Stall frozen = blobsA.stallMoveAfter(1);
        CompletableFuture<Object> delete =
            CompletableFuture.supplyAsync(() -> a.deploys().delete(SITE, d.id()));
        frozen.awaitEntered();

        proxy.cut();
        awaitLockTakenOver(storeB);
        b.deploys().restore(SITE, d.id());
        b.deploys().promote(SITE, d.id(), AliasName.PRODUCTION, AliasExpectation.ANY);
        for (String f : files) {
          assertThat(blobsB.stat(BlobLayout.deploy(SITE, d.id()).resolve(f)))
              .as("right after the restore, " + f)
              .isPresent();
        }

        proxy.restore();
        frozen.release();
        frozen.awaitDone();
        Object outcome;
        try {
          outcome = delete.get(60, TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException e) {
          outcome = e.getCause();
        }
        System.out.println("HostileFencingTest: host A's delete ended with " + outcome);

        assertThat(storeB.metadata().findAlias(SITE, AliasName.PRODUCTION).orElseThrow().target())
            .isEqualTo(d.id());
        assertThat(storeB.metadata().findDeploy(SITE, d.id()).orElseThrow().isActive()).isTrue();
        List<String> missing =
            java.util.Arrays.stream(files)
                .filter(f -> blobsB.stat(BlobLayout.deploy(SITE, d.id()).resolve(f)).isEmpty())
                .toList();
        assertThat(missing).as("files of the live production deploy that are gone").isEmpty();
      }
    }
  }
}
