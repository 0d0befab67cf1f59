package dev.durabledeploy.examples;

import dev.durabledeploy.core.DeployOptions;
import dev.durabledeploy.core.DurableDeploy;
import dev.durabledeploy.core.deploy.Finalized;
import dev.durabledeploy.core.deploy.Manifest;
import dev.durabledeploy.core.gc.GcReport;
import dev.durabledeploy.core.reconcile.DriftReport;
import dev.durabledeploy.engine.executor.ExecutorEngine;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.UploadPath;
import dev.durabledeploy.spi.events.EventBus;
import dev.durabledeploy.spi.events.LifecycleEvent;
import dev.durabledeploy.spi.events.OperationEvent;
import dev.durabledeploy.spi.exception.SiteStateException;
import dev.durabledeploy.spi.metadata.Alias;
import dev.durabledeploy.spi.metadata.AliasExpectation;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.spi.metadata.Site;
import dev.durabledeploy.spi.metadata.SiteDeletion;
import dev.durabledeploy.spi.metadata.SiteProfile;
import dev.durabledeploy.store.memory.InMemoryStore;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * The whole deploy lifecycle on embedded defaults — in-memory store, filesystem blobs in a temp
 * directory, the executor engine — printing lifecycle events as they arrive. Run it with {@code
 * ./demo}. Every run starts from a fresh data directory, so running it twice works.
 */
public final class Quickstart {

  private static final SiteId SITE = SiteId.of("docs-site");

  private final PrintStream out;

  public Quickstart(PrintStream out) {
    this.out = out;
  }

  public static void main(String[] args) throws Exception {
    new Quickstart(System.out).run(Files.createTempDirectory("durable-deploy-quickstart"));
  }

  /** Runs the tour against a blob directory; returns normally when every step behaved. */
  public void run(Path dataDir) throws IOException, InterruptedException {
    ExecutorEngine engine = ExecutorEngine.builder().build();
    try (DurableDeploy plane =
        DurableDeploy.builder()
            .store(new InMemoryStore())
            .blobRoot(dataDir.resolve("blobs"))
            .engine(engine)
            .options(DeployOptions.defaults())
            .build()) {
      plane.events().subscribe(EventBus.topic("operation"), this::print);
      plane.start();
      out.println("durable-deploy quickstart: blobs under " + dataDir);

      Site registered =
          plane
              .sites()
              .register(SITE, new SiteProfile("Docs", "team:docs", Map.of("env", "production")));
      step(
          "registered site "
              + registered.id()
              + " ("
              + registered.profile().displayName()
              + ", owned by "
              + registered.profile().owner()
              + ")");

      Deploy first = deploy(plane, "a1b2c3d", "Hello, world");
      Finalized live =
          plane
              .deploys()
              .finalizeDeploy(
                  SITE,
                  first.id(),
                  AliasName.PRODUCTION,
                  Manifest.of("index.html", "app.js", "style.css"));
      step("finalized " + first.id() + " -> production (version " + live.alias().version() + ")");

      Deploy second = deploy(plane, "d4e5f60", "Hello again");
      plane
          .deploys()
          .finalizeDeploy(
              SITE,
              second.id(),
              AliasName.PREVIEW,
              Manifest.of("index.html", "app.js", "style.css"));
      step("finalized " + second.id() + " -> preview");

      Alias promoted =
          plane
              .deploys()
              .promoteAlias(
                  SITE, AliasName.PREVIEW, AliasName.PRODUCTION, AliasExpectation.version(1));
      step("promoted preview to production (version " + promoted.version() + ")");

      Alias rolledBack = plane.deploys().rollback(SITE, AliasName.PRODUCTION);
      step(
          "rolled production back to "
              + rolledBack.target()
              + " (version "
              + rolledBack.version()
              + ")");

      plane.deploys().promote(SITE, first.id(), AliasName.PREVIEW, AliasExpectation.ANY);
      plane.deploys().delete(SITE, second.id());
      step(
          "pointed preview back at "
              + first.id()
              + " and deleted "
              + second.id()
              + "; restorable until "
              + plane.deploys().trash(SITE).get(0).expiresAt());

      plane.deploys().restore(SITE, second.id());
      step("restored " + second.id() + "; live deploys: " + plane.deploys().deploys(SITE).size());

      GcReport gc = plane.gc().run(SITE, true);
      step("GC dry run: " + gc);

      DriftReport drift = plane.reconciler().reconcile(SITE, false);
      step("drift report: " + (drift.isClean() ? "clean" : drift.toString()));

      SiteDeletion trashed = plane.deploys().purgeSite(SITE);
      step(
          "deleted the site: "
              + trashed.deploys()
              + " deploys and "
              + trashed.aliases()
              + " aliases in its trash, restorable until "
              + trashed.restorableUntil()
              + "; state "
              + plane.sites().find(SITE).orElseThrow().state());
      try {
        plane.deploys().init(SITE, "0000000");
        throw new IllegalStateException("a deleted site took a deploy");
      } catch (SiteStateException refused) {
        step("a deploy to it is refused: " + refused.getMessage());
      }

      Site restored = plane.deploys().restoreSite(SITE);
      step(
          "restored the site: state "
              + restored.state()
              + ", production -> "
              + plane.deploys().aliases(SITE).stream()
                  .filter(a -> a.name().equals(AliasName.PRODUCTION))
                  .findFirst()
                  .orElseThrow()
                  .target());

      out.println();
      out.println(
          "summary: "
              + plane.deploys().deploys(SITE).size()
              + " deploys, aliases "
              + plane.deploys().aliases(SITE).stream()
                  .map(a -> a.name() + "->" + a.target())
                  .toList());
    }
  }

  private Deploy deploy(DurableDeploy plane, String sha, String title) {
    Deploy d = plane.deploys().init(SITE, sha);
    Map<String, String> files =
        Map.of(
            "index.html", "<!doctype html><title>" + title + "</title><h1>" + title + "</h1>",
            "app.js", "console.log('" + title + "');",
            "style.css", "h1 { font-family: sans-serif; }");
    int n = 0;
    for (Map.Entry<String, String> file : files.entrySet()) {
      byte[] bytes = file.getValue().getBytes(StandardCharsets.UTF_8);
      plane
          .deploys()
          .upload(
              SITE,
              d.id(),
              UploadPath.of(file.getKey()),
              new ByteArrayInputStream(bytes),
              bytes.length);
      out.printf(
          "  upload %-10s %s %d/%d%n", file.getKey(), bar(++n, files.size()), n, files.size());
    }
    return d;
  }

  private static String bar(int done, int total) {
    int width = 20;
    int filled = done * width / total;
    return "[" + "#".repeat(filled) + " ".repeat(width - filled) + "]";
  }

  private void step(String what) {
    out.println("* " + what);
  }

  private void print(LifecycleEvent event) {
    if (event instanceof OperationEvent.Succeeded s) {
      out.println("    event: " + s.operation() + " succeeded in " + s.took().toMillis() + " ms");
    } else if (event instanceof OperationEvent.Failed f) {
      out.println("    event: " + f.operation() + " failed: " + f.error());
    }
  }
}
