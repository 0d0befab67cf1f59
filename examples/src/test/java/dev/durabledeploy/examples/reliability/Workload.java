package dev.durabledeploy.examples.reliability;

import dev.durabledeploy.core.DurableDeploy;
import dev.durabledeploy.core.deploy.DeployService;
import dev.durabledeploy.core.deploy.Manifest;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.DurableDeployException;
import dev.durabledeploy.spi.InvalidInputException;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.UploadPath;
import dev.durabledeploy.spi.metadata.AliasExpectation;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.spi.metadata.Tombstone;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The seeded operation mix the reliability harness runs on a handful of sites: deploy (init,
 * upload, finalize), promote, rollback, delete, restore, GC, reconcile(apply), the purge of expired
 * tombstones and the purge of a whole site. Same seed, same sequence of choices. Refusals the
 * library is designed to give (drift, busy, aliased, wrong state, outage) are counted, not
 * failures: the harness is about what state they leave behind.
 */
final class Workload {

  static final AliasName PREVIEW = AliasName.of("preview");

  private final DurableDeploy plane;
  private final DeployService deploys;
  private final SplittableRandom random;
  private final int sites;
  final AtomicLong done = new AtomicLong();
  final AtomicLong refused = new AtomicLong();

  Workload(DurableDeploy plane, long seed, int sites) {
    this.plane = plane;
    this.deploys = plane.deploys();
    this.random = new SplittableRandom(seed);
    this.sites = sites;
  }

  static SiteId site(int n) {
    return SiteId.of(String.format(Locale.ROOT, "site-%02d", n));
  }

  /** One random operation; returns its name. Refusals count in {@link #refused}. */
  String step() {
    SiteId site = site(random.nextInt(sites));
    int dice = random.nextInt(100);
    String name;
    if (dice < 40) {
      name = "deploy";
    } else if (dice < 52) {
      name = "promote";
    } else if (dice < 62) {
      name = "rollback";
    } else if (dice < 72) {
      name = "delete";
    } else if (dice < 80) {
      name = "restore";
    } else if (dice < 90) {
      name = "gc";
    } else if (dice < 95) {
      name = "reconcile";
    } else if (dice < 98) {
      name = "purge-expired";
    } else {
      name = "purge-site";
    }
    int pick = random.nextInt(1 << 20);
    try {
      run(name, site, pick);
      done.incrementAndGet();
    } catch (InvalidInputException e) {
      throw e; // the harness's own bug, never a designed refusal
    } catch (DurableDeployException e) {
      refused.incrementAndGet();
    }
    return name;
  }

  private void run(String name, SiteId site, int pick) {
    switch (name) {
      case "deploy" -> deploy(site, pick % 3 == 0 ? PREVIEW : AliasName.PRODUCTION);
      case "promote" -> {
        if (deploys.aliases(site).stream()
            .anyMatch(a -> a.name().equals(PREVIEW) && a.target() != null)) {
          deploys.promoteAlias(site, PREVIEW, AliasName.PRODUCTION, AliasExpectation.ANY);
        }
      }
      case "rollback" -> {
        List<Deploy> active = deploys.deploys(site).stream().filter(Deploy::isActive).toList();
        if (!active.isEmpty()) {
          DeployId to = active.get(pick % active.size()).id();
          deploys.rollback(site, AliasName.PRODUCTION, to, AliasExpectation.ANY);
        }
      }
      case "delete" -> {
        List<Deploy> all = deploys.deploys(site);
        if (!all.isEmpty()) {
          deploys.delete(site, all.get(pick % all.size()).id());
        }
      }
      case "restore" -> {
        List<Tombstone> trash = deploys.trash(site);
        if (!trash.isEmpty()) {
          deploys.restore(site, trash.get(pick % trash.size()).deployId());
        }
      }
      case "gc" -> plane.gc().run(site, false);
      case "reconcile" -> plane.reconciler().reconcile(site, true);
      case "purge-expired" -> plane.tombstonePurge().run();
      case "purge-site" -> deploys.purgeSite(site);
      default -> throw new IllegalStateException(name);
    }
  }

  private void deploy(SiteId site, AliasName alias) {
    Deploy d = deploys.init(site, null);
    upload(site, d.id(), "index.html", "<h1>" + d.id() + "</h1>");
    upload(site, d.id(), "app.js", "console.log('" + d.id() + "')");
    deploys.finalizeDeploy(site, d.id(), alias, Manifest.of("index.html", "app.js"));
  }

  private void upload(SiteId site, DeployId id, String path, String text) {
    byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
    deploys.upload(site, id, UploadPath.of(path), new ByteArrayInputStream(bytes), bytes.length);
  }
}
