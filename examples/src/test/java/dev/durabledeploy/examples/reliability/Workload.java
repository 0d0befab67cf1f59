package dev.durabledeploy.examples.reliability;

import dev.durabledeploy.core.DurableDeploy;
import dev.durabledeploy.core.deploy.BlobLayout;
import dev.durabledeploy.core.deploy.DeployService;
import dev.durabledeploy.core.deploy.Finalized;
import dev.durabledeploy.core.deploy.Manifest;
import dev.durabledeploy.core.deploy.ManifestIncompleteException;
import dev.durabledeploy.core.deploy.UploadConflictException;
import dev.durabledeploy.core.gc.GcPlan;
import dev.durabledeploy.core.gc.GcReport;
import dev.durabledeploy.core.gc.KeepReason;
import dev.durabledeploy.core.gc.SiteGc;
import dev.durabledeploy.core.metadata.MetadataCommands;
import dev.durabledeploy.spi.Actor;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.UploadPath;
import dev.durabledeploy.spi.blob.BlobContent;
import dev.durabledeploy.spi.blob.BlobInfo;
import dev.durabledeploy.spi.blob.BlobPrefix;
import dev.durabledeploy.spi.blob.BlobStore;
import dev.durabledeploy.spi.events.OperationEvent;
import dev.durabledeploy.spi.events.Subscription;
import dev.durabledeploy.spi.exception.AliasDriftException;
import dev.durabledeploy.spi.exception.DeployAliasedException;
import dev.durabledeploy.spi.exception.DeployNotFoundException;
import dev.durabledeploy.spi.exception.DeployStateException;
import dev.durabledeploy.spi.exception.SiteBusyException;
import dev.durabledeploy.spi.exception.TombstoneExpiredException;
import dev.durabledeploy.spi.exception.TransientStoreException;
import dev.durabledeploy.spi.metadata.AliasExpectation;
import dev.durabledeploy.spi.metadata.AuditEntry;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.spi.metadata.MetadataStore;
import dev.durabledeploy.spi.metadata.Tombstone;
import dev.durabledeploy.testkit.GatedInputStream;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Queue;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.awaitility.Awaitility;

/**
 * The seeded operation mix the reliability harness runs on a handful of sites, as a host's request
 * threads would drive it: deploy (init, upload, finalize), promote, rollback, delete, restore, GC,
 * reconcile(apply), the purge of expired tombstones and of a whole site, and the seams where two
 * requests meet, each forced with a second real thread:
 *
 * <ul>
 *   <li>{@code race-finalize}: an upload of a new file (listed in the manifest or not), or a
 *       re-upload of {@code index.html}, while the same deploy is finalized;
 *   <li>{@code race-delete}, {@code race-purge}, {@code race-gc}: an upload into a pending deploy
 *       while it is deleted, while its site is purged, while GC moves it (stale) to trash (on a
 *       site of its own, see {@link #sites});
 *   <li>{@code restore}, then the background {@code gc-site} that the restore's {@code
 *       site.changed} triggers: the workload watches the engine's runs and, once one that started
 *       after the restore has finished, checks that it did not trash the restored deploy.
 * </ul>
 *
 * Each race starts in one of three ways ({@link Start}): both sides together at a barrier; the
 * upload parked in its write (a {@link GatedInputStream}) until the other operation has begun (its
 * {@code Started} event); or parked until the other operation's first effect is visible from
 * outside (the deploy sealed, its tombstone written, the site's bytes gone), which is where the
 * narrow windows are. Each is followed by a check of its outcome against the bucket: an upload that
 * reports success is in the finalized deploy's marker, in trash with its deploy or gone with its
 * site; one refused is nowhere; a finalized deploy holds exactly what its marker verified. A check
 * is skipped (and counted) when another actor changed the site meanwhile, or the upload did not
 * settle.
 *
 * <p>Refusals the library is designed to give ({@link #REFUSALS}) are counted, not failures; any
 * other exception, and any failed check, is a violation. Same seed, same sequence of choices.
 */
final class Workload {

  static final AliasName PREVIEW = AliasName.of("preview");

  /** What a host is told by design when a request cannot be done now: counted as refusals. */
  static final List<Class<? extends RuntimeException>> REFUSALS =
      List.of(
          DeployStateException.class,
          DeployNotFoundException.class,
          UploadConflictException.class,
          SiteBusyException.class,
          // An outage of a store, and SiteLockLostException (a saga that lost its lock) with it.
          TransientStoreException.class,
          AliasDriftException.class,
          DeployAliasedException.class,
          TombstoneExpiredException.class,
          // A trashed site refuses every command but a restore; a restore after the window.
          dev.durabledeploy.spi.exception.SiteStateException.class,
          dev.durabledeploy.spi.exception.SiteNotFoundException.class);

  /**
   * An upload that ended with one of these has settled: its file is among the deploy's or it was
   * withdrawn (or never written). Any other end (an outage, a busy site lock, a kill) may leave the
   * file where the reconciler finds it, under a finalized prefix too.
   */
  static final List<Class<? extends RuntimeException>> SETTLED =
      List.of(
          DeployStateException.class, DeployNotFoundException.class, UploadConflictException.class);

  /** How long one side of a race may take before the harness calls it hung. */
  static final Duration RACE_DEADLINE = Duration.ofSeconds(120);

  /** How long after a restore the workload waits to see the background GC before giving up. */
  static final Duration WATCH = Duration.ofSeconds(5);

  private static final int MAX_VIOLATIONS = 200;
  private static final String GC_ACTOR = "system:gc";

  private final DurableDeploy plane;
  private final DeployService deploys;
  private final MetadataStore metadata;
  private final BlobStore inspect;
  private final SplittableRandom random;
  private final int sites;
  private final Actor actor;
  private final Consumer<String> log;
  private final Subscription engineRuns;
  private final Subscription outboxDeadLetters;

  final AtomicLong done = new AtomicLong();
  final AtomicLong refused = new AtomicLong();
  final AtomicLong checks = new AtomicLong();
  final List<String> violations = java.util.Collections.synchronizedList(new ArrayList<>());

  /** {@code site/deploy/path} of every upload begun and not settled (see {@link #SETTLED}). */
  final Set<String> unsettled = ConcurrentHashMap.newKeySet();

  private final Map<String, AtomicLong> counters = new ConcurrentHashMap<>();

  /** Restores waiting for a background GC, and the runs of {@code gc-site} seen starting. */
  private final Map<Watch, Boolean> watches = new ConcurrentHashMap<>();

  private final Map<String, Instant> gcRunsStarted = new ConcurrentHashMap<>();
  private final Queue<Watch> followedByGc = new ConcurrentLinkedQueue<>();

  private record Watch(SiteId site, DeployId id, Instant restoredAt) {}

  /** One side of a race: its value, or what it threw. */
  record Outcome<T>(T value, RuntimeException failure) {
    boolean ok() {
      return failure == null;
    }
  }

  /**
   * @param inspect the blob store the checks read (the plane's own, or the one under a faulty
   *     wrapper), so a check never fails for an injected fault
   * @param name the workload's actor in the audit log is {@code harness:<name>}
   * @param log receives {@code UPLOAD}, {@code SETTLED} and {@code VIOLATION} lines (the worker
   *     prints them for the test that kills it)
   */
  Workload(
      Plane plane, long seed, int sites, BlobStore inspect, String name, Consumer<String> log) {
    this.plane = plane.deploy;
    this.actor = Actor.of("harness:" + name);
    this.deploys = plane.deploy.deploys().as(actor);
    this.metadata = plane.deploy.store().metadata();
    this.inspect = inspect;
    this.random = new SplittableRandom(seed);
    this.sites = sites;
    this.log = log;
    this.engineRuns = plane.engineEvents.subscribe(e -> e instanceof OperationEvent, this::onRun);
    this.outboxDeadLetters =
        plane.deploy.events().subscribe(e -> e instanceof OperationEvent.DeadLettered, this::onRun);
  }

  Workload(Plane plane, long seed, int sites, String name) {
    this(plane, seed, sites, plane.blobs, name, line -> {});
  }

  static SiteId site(int n) {
    return SiteId.of(String.format(Locale.ROOT, "site-%02d", n));
  }

  /**
   * Every site a workload on {@code sites} sites touches: those, and one more where only {@code
   * race-gc} works, so the pending deploys it abandons there grow stale (older than grace) with no
   * other operation's {@code site.changed} running GC on them first.
   */
  static List<SiteId> sites(int sites) {
    return java.util.stream.IntStream.rangeClosed(0, sites).mapToObj(Workload::site).toList();
  }

  /** One random operation; returns its name. Refusals count in {@link #refused}. */
  String step() {
    checkWatchedRestores();
    SiteId site = site(random.nextInt(sites));
    int dice = random.nextInt(100);
    String name;
    if (dice < 24) {
      name = "deploy";
    } else if (dice < 38) {
      name = "race-finalize";
    } else if (dice < 47) {
      name = "promote";
    } else if (dice < 54) {
      name = "rollback";
    } else if (dice < 62) {
      name = "delete";
    } else if (dice < 67) {
      name = "race-delete";
    } else if (dice < 75) {
      name = "restore";
    } else if (dice < 81) {
      name = "gc";
    } else if (dice < 87) {
      name = "race-gc";
    } else if (dice < 92) {
      name = "reconcile";
    } else if (dice < 95) {
      name = "purge-expired";
    } else if (dice < 96) {
      name = "purge-site";
    } else if (dice < 97) {
      name = "race-purge";
    } else if (dice < 98) {
      name = "race-trash";
    } else if (dice < 99) {
      name = "register";
    } else {
      name = "adopt-bucket-site";
    }
    // A trashed site refuses nearly everything: half of what is picked for one restores it.
    // Drawn whatever the site's state, so a seed gives the same sequence of choices.
    boolean restoreIfTrashed = random.nextBoolean();
    int pick = random.nextInt(1 << 20);
    long began = System.nanoTime();
    try {
      // Inside the try: reading the record can meet an outage like any other call.
      if (restoreIfTrashed && isTrashed(site)) {
        name = "restore-site";
      }
      run(name, site, pick);
      done.incrementAndGet();
    } catch (RuntimeException e) {
      if (isAny(e, REFUSALS)) {
        refused.incrementAndGet();
        count("refused." + e.getClass().getSimpleName());
      } else {
        violation(name + " on " + site + " threw " + describe(e));
      }
    }
    count("op." + name);
    add("ms." + name, (System.nanoTime() - began) / 1_000_000);
    return name;
  }

  /** Counters for the report: operations, refusals by kind, race outcomes, restores watched. */
  String stats() {
    StringBuilder out = new StringBuilder();
    new TreeMap<>(counters)
        .forEach(
            (k, v) -> out.append(out.length() == 0 ? "" : " ").append(k).append('=').append(v));
    return out.append(" checks=").append(checks.get()).toString();
  }

  void close() {
    engineRuns.close();
    outboxDeadLetters.close();
  }

  private void run(String name, SiteId site, int pick) {
    switch (name) {
      case "deploy" -> deploy(site, pick % 3 == 0 ? PREVIEW : AliasName.PRODUCTION, pick);
      case "race-finalize" -> raceFinalize(site, pick);
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
      case "race-delete" -> raceDelete(site, pick);
      case "restore" -> restore(site, pick);
      case "gc" -> plane.gc().run(site, false);
      case "race-gc" -> raceGc(site(sites), pick);
      case "reconcile" -> plane.reconciler().reconcile(site, true);
      case "purge-expired" -> plane.tombstonePurge().run();
      case "purge-site" -> deploys.purgeSiteNow(site);
      case "race-purge" -> racePurge(site, pick);
      case "race-trash" -> raceTrash(site, pick);
      case "restore-site" -> restoreSite(site);
      case "adopt-bucket-site" -> adoptBucketSite(pick);
      case "register" ->
          plane
              .sites()
              .as(actor)
              .register(
                  site,
                  dev.durabledeploy.spi.metadata.SiteProfile.of(
                      "Site " + site, "team:" + (pick % 2)));
      default -> throw new IllegalStateException(name);
    }
  }

  // ---- plain deploys ---------------------------------------------------------------------------

  private void deploy(SiteId site, AliasName alias, int pick) {
    Deploy d = deploys.init(site, null);
    byte[] index = text("<h1>" + d.id() + "</h1>");
    byte[] app = text("console.log('" + d.id() + "')");
    require(upload(site, d.id(), "index.html", index));
    require(upload(site, d.id(), "app.js", app));
    // Half the deploys name each file's size and SHA-256, so finalize verifies content.
    Manifest manifest =
        pick % 2 == 0
            ? Manifest.of("index.html", "app.js")
            : Manifest.ofEntries(
                Manifest.Entry.of("index.html", index.length, sha256(index)),
                Manifest.Entry.of("app.js", app.length, sha256(app)));
    deploys.finalizeDeploy(site, d.id(), alias, manifest);
  }

  // ---- restore ---------------------------------------------------------------------------------

  /**
   * Restores a deploy from trash; with nothing restorable, first lets GC trash what it would (the
   * user then restores what GC just took: the deploy GC wants most). Either way the background GC
   * the restore triggers is watched (see {@link #checkWatchedRestores}).
   */
  private void restore(SiteId site, int pick) {
    Instant now = Instant.now();
    List<Tombstone> trash =
        deploys.trash(site).stream().filter(t -> !t.isExpired(now.plusSeconds(1))).toList();
    DeployId chosen;
    if (!trash.isEmpty()) {
      chosen = trash.get(pick % trash.size()).deployId();
    } else {
      List<DeployId> trashed = plane.gc().run(site, false).trashed();
      if (trashed.isEmpty()) {
        return;
      }
      chosen = trashed.get(0);
      count("restore.what-gc-just-trashed");
    }
    Deploy restored = deploys.restore(site, chosen);
    if (restored.restoredAt() != null) {
      watches.put(new Watch(site, restored.id(), restored.restoredAt()), Boolean.TRUE);
      count("restore.watched");
    }
  }

  // ---- uploads racing finalize ----------------------------------------------------------------

  private enum Racer {
    /** A new file the manifest does not list. */
    NEW_UNLISTED,
    /** A new file the manifest lists: finalize before it lands is incomplete. */
    NEW_LISTED,
    /** {@code index.html} again, with other bytes (a replacement, under the site lock). */
    REPLACE
  }

  private void raceFinalize(SiteId site, int pick) {
    Racer racer = Racer.values()[pick % 3];
    Start start = Start.values()[(pick / 3) % 3];
    Deploy d = deploys.init(site, null);
    byte[] index = text("<h1>" + d.id() + "</h1>");
    require(upload(site, d.id(), "index.html", index));
    require(upload(site, d.id(), "app.js", text("console.log('" + d.id() + "')")));
    String path =
        switch (racer) {
          case NEW_UNLISTED -> "late.css";
          case NEW_LISTED -> "extra.css";
          case REPLACE -> "index.html";
        };
    byte[] racing =
        racer == Racer.REPLACE
            ? text("<h1>replaced " + d.id() + "</h1>")
            : text("/* " + path + " of " + d.id() + " */");
    Manifest manifest =
        racer == Racer.NEW_LISTED
            ? Manifest.of("index.html", "app.js", "extra.css")
            : Manifest.of("index.html", "app.js");
    AliasName alias = pick % 5 == 0 ? PREVIEW : AliasName.PRODUCTION;
    long mark = auditMark(site);
    Race<Finalized> race =
        race(
            site,
            d.id(),
            path,
            racing,
            start,
            "finalize",
            () -> deploys.deploy(site, d.id()).map(x -> !x.isPending()).orElse(true),
            () -> deploys.finalizeDeploy(site, d.id(), alias, manifest));
    count("race-finalize." + racer.name().toLowerCase(Locale.ROOT) + "." + start.label());
    Outcome<Finalized> fin = race.other();
    Outcome<BlobInfo> up = race.upload();
    if (!fin.ok() && fin.failure() instanceof ManifestIncompleteException) {
      // Designed: the listed file was not there when finalize sealed the deploy.
      expect(racer == Racer.NEW_LISTED, site, "finalize of " + d.id() + " found files missing");
      count("race-finalize.incomplete");
      if (!checkable(site, mark, up)) {
        return;
      }
      expect(
          deploys.deploy(site, d.id()).map(Deploy::isPending).orElse(false),
          site,
          "a finalize of " + d.id() + " that failed its verification left it not pending");
      // The client's next move: send what was withdrawn, finalize again.
      if (!up.ok()) {
        require(upload(site, d.id(), path, racing));
      }
      deploys.finalizeDeploy(site, d.id(), alias, manifest);
      checkFinalized(site, d.id(), path, racing);
      return;
    }
    rethrowUnlessRefused(fin);
    if (!fin.ok() || !checkable(site, mark, up)) {
      return;
    }
    count("race-finalize." + (up.ok() ? "upload-verified" : "upload-withdrawn"));
    checkFinalized(site, d.id(), path, up.ok() ? racing : null);
    if (!up.ok() && racer == Racer.REPLACE) {
      expectBytes(
          BlobLayout.deploy(site, d.id()), "index.html", index, site, "a refused re-upload");
    }
  }

  /**
   * A finalized deploy holds exactly the files its marker verified, each with those bytes; the
   * racing upload's file is among them with its bytes when {@code uploaded} is not null, and absent
   * (a new path) when it is.
   */
  private void checkFinalized(SiteId site, DeployId id, String path, byte[] uploaded) {
    // The upload has settled: not even the documented window's extra file may be there.
    List<String> problems =
        Invariants.bytesAgainstMarker(inspect, site, id, extra -> false, checks);
    problems.forEach(p -> violation(site + ": " + p + " (right after a race with an upload)"));
    BlobPrefix prefix = BlobLayout.deploy(site, id);
    if (uploaded != null) {
      expectBytes(prefix, path, uploaded, site, "an upload that reported success");
    } else if (!path.equals("index.html")) {
      expect(
          inspect.stat(prefix.resolve(path)).isEmpty(),
          site,
          "the withdrawn upload's " + id + "/" + path + " is still under the finalized deploy");
    }
  }

  // ---- uploads racing delete, purgeSite and GC's trash move -----------------------------------

  private void raceDelete(SiteId site, int pick) {
    boolean replace = pick % 2 == 0;
    Start start = Start.values()[(pick / 2) % 3];
    Deploy d = deploys.init(site, null);
    byte[] index = text("<h1>" + d.id() + "</h1>");
    require(upload(site, d.id(), "index.html", index));
    String path = replace ? "index.html" : "late.js";
    byte[] racing = text("/* racing a delete of " + d.id() + " */");
    long mark = auditMark(site);
    Race<Tombstone> race =
        race(
            site,
            d.id(),
            path,
            racing,
            start,
            "delete",
            () -> metadata.findTombstone(site, d.id()).isPresent(),
            () -> deploys.delete(site, d.id()));
    count("race-delete." + (replace ? "replace" : "new") + "." + start.label());
    rethrowUnlessRefused(race.other());
    Outcome<BlobInfo> up = race.upload();
    if (!race.other().ok() || !checkable(site, mark, up)) {
      return;
    }
    count("race-delete." + (up.ok() ? "upload-in-trash" : "upload-withdrawn"));
    expect(
        inspect.listAll(BlobLayout.deploy(site, d.id())).isEmpty(),
        site,
        "deleted "
            + d.id()
            + " still has live bytes after the racing upload ended ("
            + (up.ok() ? "it reported success" : describe(up.failure()))
            + ")");
    expect(
        metadata.findTombstone(site, d.id()).isPresent(),
        site,
        "deleted " + d.id() + " has no tombstone");
    BlobPrefix trash = BlobLayout.trash(site, d.id());
    if (up.ok()) {
      expectBytes(trash, path, racing, site, "an upload that reported success before the delete");
    } else if (replace) {
      expectBytes(trash, path, index, site, "the deploy's own file after a refused re-upload");
    } else if (inspect.stat(trash.resolve(path)).isPresent()) {
      // Written before the move, read the deploy again after the tombstone: the upload is told
      // the deploy is gone, and its file is in trash under the tombstone, with the deploy.
      count("race-delete.refused-upload-in-trash");
    }
  }

  private void racePurge(SiteId site, int pick) {
    Start start = Start.values()[pick % 3];
    Deploy d = deploys.init(site, null);
    require(upload(site, d.id(), "index.html", text("<h1>" + d.id() + "</h1>")));
    byte[] racing = text("/* racing a purge of " + d.id() + " */");
    long mark = auditMark(site);
    Race<?> race =
        race(
            site,
            d.id(),
            "late.js",
            racing,
            start,
            "purge-site",
            // The purge has deleted the site's bytes; its rows go next.
            () -> inspect.listAll(BlobLayout.deploy(site, d.id())).isEmpty(),
            () -> deploys.purgeSiteNow(site));
    count("race-purge." + start.label());
    rethrowUnlessRefused(race.other());
    Outcome<BlobInfo> up = race.upload();
    if (!race.other().ok()) {
      return;
    }
    // Look first, then ask whether anyone else touched the site: the other workloads deploy to
    // it too, and a deploy of theirs begun after the check would read as the purge's leftover.
    List<String> left = new ArrayList<>();
    inspect.listAll(BlobLayout.site(site)).forEach(i -> left.add(i.key().value()));
    inspect.listAll(BlobLayout.trash(site)).forEach(i -> left.add(i.key().value()));
    boolean rowsLeft = !deploys.deploys(site).isEmpty() || !deploys.trash(site).isEmpty();
    if (!checkable(site, mark, up)) {
      return;
    }
    count("race-purge." + (up.ok() ? "upload-reported-success" : "upload-withdrawn"));
    expect(
        left.isEmpty(),
        site,
        "purgeSite left "
            + left
            + " behind; the racing upload "
            + (up.ok() ? "reported success" : "was refused: " + describe(up.failure())));
    expect(!rowsLeft, site, "purgeSite left rows behind");
  }

  private boolean isTrashed(SiteId site) {
    return metadata
        .findSite(site)
        .map(r -> r.state() == dev.durabledeploy.spi.metadata.SiteState.TRASHED)
        .orElse(false);
  }

  /**
   * An upload into a pending deploy racing {@code purgeSite} (a trash): the pending deploy is
   * abandoned, so the upload must end refused or withdrawn, no byte of it live or in the site
   * trash; the site's active deploys are all in the site trash; a restore brings them back.
   */
  private void raceTrash(SiteId site, int pick) {
    Start start = Start.values()[pick % 3];
    Deploy d = deploys.init(site, null);
    require(upload(site, d.id(), "index.html", text("<h1>" + d.id() + "</h1>")));
    byte[] racing = text("/* racing a trash of " + d.id() + " */");
    long mark = auditMark(site);
    Race<?> race =
        race(
            site,
            d.id(),
            "late.js",
            racing,
            start,
            "trash-site",
            // The trash has committed its record; the bytes move next.
            trashedNow(site),
            () -> deploys.purgeSite(site));
    count("race-trash." + start.label());
    rethrowUnlessRefused(race.other());
    Outcome<BlobInfo> up = race.upload();
    if (!race.other().ok()) {
      return;
    }
    List<String> live = new ArrayList<>();
    inspect.listAll(BlobLayout.site(site)).forEach(i -> live.add(i.key().value()));
    List<String> pendingInTrash = new ArrayList<>();
    inspect.listAll(BlobLayout.siteTrash(site)).stream()
        .map(i -> i.key().value())
        .filter(k -> k.contains(d.id().value()))
        .forEach(pendingInTrash::add);
    boolean pendingRow = metadata.findDeploy(site, d.id()).isPresent();
    if (!checkable(site, mark, up)) {
      return;
    }
    count("race-trash." + (up.ok() ? "upload-reported-success" : "upload-withdrawn"));
    expect(live.isEmpty(), site, "purgeSite (trash) left live bytes " + live);
    expect(
        pendingInTrash.isEmpty(),
        site,
        "purgeSite (trash) kept the abandoned deploy's bytes " + pendingInTrash);
    expect(!pendingRow, site, "purgeSite (trash) kept the pending deploy " + d.id());
    restoreSite(site);
  }

  private final java.util.concurrent.atomic.AtomicInteger bucketSites =
      new java.util.concurrent.atomic.AtomicInteger();

  /**
   * A site only the bucket has (a finalized deploy another plane wrote, no row, no record):
   * reconcile reports it and, applied, adopts it: the deploy is indexed ACTIVE and the site
   * registered.
   */
  private void adoptBucketSite(int pick) {
    SiteId site =
        SiteId.of(
            "bucket-"
                + actor.value().replaceAll("[^a-z0-9]", "")
                + "-"
                + bucketSites.incrementAndGet());
    DeployId id =
        DeployId.forSha(
            java.time.Instant.now().minus(Duration.ofDays(30)),
            String.format(Locale.ROOT, "%07x", pick & 0xfffffff));
    byte[] html = text("<h1>adopted " + id + "</h1>");
    inspect.put(
        BlobLayout.deploy(site, id).resolve("index.html"),
        new java.io.ByteArrayInputStream(html),
        html.length,
        dev.durabledeploy.spi.blob.BlobMetadata.ofType("text/html"));
    byte[] marker =
        dev.durabledeploy.core.deploy.Marker.of(site, id, null, java.time.Instant.now(), 1)
            .toJson();
    inspect.put(
        BlobLayout.marker(site, id),
        new java.io.ByteArrayInputStream(marker),
        marker.length,
        dev.durabledeploy.spi.blob.BlobMetadata.ofType("application/json"));
    expect(
        plane
            .reconciler()
            .reconcile(site, false)
            .counts()
            .containsKey(dev.durabledeploy.core.reconcile.DriftKind.SITE_NOT_INDEXED),
        site,
        "a site only the bucket has is not reported as SITE_NOT_INDEXED");
    plane.reconciler().as(actor).reconcile(site, true);
    count("adopt-bucket-site");
    expect(
        metadata.findDeploy(site, id).map(Deploy::isActive).orElse(false),
        site,
        "reconcile(apply) did not adopt the bucket-only site's deploy " + id);
    expect(
        metadata.findSite(site).map(r -> r.isActive()).orElse(false),
        site,
        "reconcile(apply) adopted a site without registering it");
  }

  /** Whether the site's record is TRASHED now: a trash's first effect. */
  private java.util.function.BooleanSupplier trashedNow(SiteId site) {
    return () -> isTrashed(site);
  }

  /**
   * {@code restoreSite}, then, unless another workload trashed the site again meanwhile: nothing of
   * the site left in the site trash.
   */
  private void restoreSite(SiteId site) {
    long mark = auditMark(site);
    deploys.restoreSite(site);
    count("restore-site");
    List<String> left = new ArrayList<>();
    inspect.listAll(BlobLayout.siteTrash(site)).forEach(i -> left.add(i.key().value()));
    boolean trashedAgain =
        metadata.auditLog(site, 200).stream()
            .anyMatch(a -> a.id() > mark && a.action().equals(MetadataCommands.ACTION_TRASH_SITE));
    if (trashedAgain || isTrashed(site)) {
      count("restore-site.unchecked.trashed-again");
      return;
    }
    expect(left.isEmpty(), site, "restoreSite left " + left + " in the site trash");
  }

  private void raceGc(SiteId site, int pick) {
    Instant staleBefore = Instant.now().minus(Plane.OPTIONS.grace()).minusMillis(200);
    Optional<Deploy> stale =
        deploys.deploys(site).stream()
            .filter(Deploy::isPending)
            .filter(d -> d.createdAt().isBefore(staleBefore))
            .findFirst();
    if (stale.isEmpty()) {
      // An abandoned upload: pending for good, so a later race-gc finds it stale.
      Deploy d = deploys.init(site, null);
      require(upload(site, d.id(), "index.html", text("<h1>abandoned " + d.id() + "</h1>")));
      count("race-gc.abandoned");
      return;
    }
    DeployId id = stale.get().id();
    Start start = Start.values()[pick % 3];
    String path = "late-" + pick + ".js";
    byte[] racing = text("/* racing GC of " + id + " */");
    long mark = auditMark(site);
    Race<GcReport> race =
        race(
            site,
            id,
            path,
            racing,
            start,
            "gc",
            () -> metadata.findTombstone(site, id).isPresent(),
            () -> plane.gc().run(site, false));
    count("race-gc." + start.label());
    rethrowUnlessRefused(race.other());
    Outcome<BlobInfo> up = race.upload();
    if (!race.other().ok() || !checkable(site, mark, up)) {
      return;
    }
    // This GC or the background one may have trashed it: which one does not matter.
    boolean trashed = metadata.findTombstone(site, id).isPresent();
    count("race-gc." + (trashed ? "trashed" : "kept") + "." + (up.ok() ? "upload-ok" : "refused"));
    BlobPrefix live = BlobLayout.deploy(site, id);
    BlobPrefix trash = BlobLayout.trash(site, id);
    if (trashed) {
      expect(
          inspect.listAll(live).isEmpty(),
          site,
          "GC trashed " + id + " but live bytes remain after the racing upload ended");
      if (up.ok()) {
        expectBytes(trash, path, racing, site, "an upload that reported success before GC");
      } else if (inspect.stat(trash.resolve(path)).isPresent()) {
        // As with delete: written before the move, refused after the tombstone, in trash with it.
        count("race-gc.refused-upload-in-trash");
      }
    } else if (up.ok()) {
      expectBytes(live, path, racing, site, "an upload into a pending deploy GC kept");
    }
  }

  // ---- the race itself -------------------------------------------------------------------------

  private record Race<T>(Outcome<BlobInfo> upload, Outcome<T> other) {}

  /** How the two sides of a race start. */
  enum Start {
    /** Both at a barrier: any order. */
    TOGETHER,
    /** The upload parked in its write until the other operation's {@code Started} event. */
    ON_START,
    /** The upload parked in its write until the other operation's first effect is visible. */
    ON_EFFECT;

    String label() {
      return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }
  }

  /**
   * Uploads {@code bytes} to {@code path} on a second thread while {@code other} runs (an operation
   * the plane names {@code otherName} in its lifecycle events), started as {@code start} says;
   * {@code effect} tells from outside that {@code other}'s first step has taken effect.
   */
  private <T> Race<T> race(
      SiteId site,
      DeployId id,
      String path,
      byte[] bytes,
      Start start,
      String otherName,
      java.util.function.BooleanSupplier effect,
      Callable<T> other) {
    if (start == Start.TOGETHER) {
      CyclicBarrier barrier = new CyclicBarrier(2);
      FutureTask<Outcome<BlobInfo>> upload =
          onAnotherThread(
              () -> {
                awaitBarrier(barrier);
                return upload(site, id, path, new ByteArrayInputStream(bytes), bytes.length);
              });
      awaitBarrier(barrier);
      Outcome<T> result = attempt(other);
      return new Race<>(await(upload), result);
    }
    GatedInputStream body = new GatedInputStream(bytes, RACE_DEADLINE);
    FutureTask<Outcome<BlobInfo>> upload =
        onAnotherThread(() -> upload(site, id, path, body, bytes.length));
    // Refused before it reads a byte (the deploy is gone already), or parked in its write.
    Awaitility.await("the racing upload reads its body or ends")
        .atMost(RACE_DEADLINE)
        .pollInterval(Duration.ofMillis(1))
        .until(() -> body.isBeingRead() || upload.isDone());
    Subscription onStart =
        start == Start.ON_START
            ? plane
                .events()
                .subscribe(
                    e ->
                        e instanceof OperationEvent.Started s
                            && s.operation().equals(otherName)
                            && site.equals(s.site()),
                    e -> body.open())
            : null;
    try {
      FutureTask<Outcome<T>> result = onAnotherThread(() -> attempt(other));
      if (start == Start.ON_EFFECT) {
        Awaitility.await("the racing " + otherName + " takes effect or ends")
            .atMost(RACE_DEADLINE)
            .pollInterval(Duration.ofMillis(1))
            .ignoreExceptions()
            .until(() -> result.isDone() || effect.getAsBoolean());
        body.open();
      }
      Outcome<T> done = await(result);
      body.open();
      return new Race<>(await(upload), done);
    } finally {
      body.open();
      if (onStart != null) {
        onStart.close();
      }
    }
  }

  private static <T> FutureTask<T> onAnotherThread(Callable<T> body) {
    FutureTask<T> task = new FutureTask<>(body);
    Thread thread = new Thread(task, "harness-race");
    thread.setDaemon(true);
    thread.start();
    return task;
  }

  private static <T> T await(FutureTask<T> task) {
    try {
      return task.get(RACE_DEADLINE.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      throw new IllegalStateException("the racing thread failed", e.getCause());
    } catch (TimeoutException e) {
      throw new IllegalStateException("a racing upload did not end within " + RACE_DEADLINE, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while waiting for a racing upload", e);
    }
  }

  private static void awaitBarrier(CyclicBarrier barrier) {
    try {
      barrier.await(RACE_DEADLINE.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted at the start of a race", e);
    } catch (BrokenBarrierException | TimeoutException e) {
      throw new IllegalStateException("the other side of a race never started", e);
    }
  }

  private static <T> Outcome<T> attempt(Callable<T> body) {
    try {
      return new Outcome<>(body.call(), null);
    } catch (RuntimeException e) {
      return new Outcome<>(null, e);
    } catch (Exception e) {
      return new Outcome<>(null, new IllegalStateException(e));
    }
  }

  /** One upload, tracked until it settles (see {@link #SETTLED}). */
  private Outcome<BlobInfo> upload(
      SiteId site, DeployId id, String path, InputStream body, long size) {
    String key = site + "/" + id + "/" + path;
    unsettled.add(key);
    log.accept("UPLOAD " + key);
    Outcome<BlobInfo> outcome =
        attempt(() -> deploys.upload(site, id, UploadPath.of(path), body, size));
    if (outcome.ok() || isAny(outcome.failure(), SETTLED)) {
      unsettled.remove(key);
      log.accept("SETTLED " + key);
    }
    return outcome;
  }

  private Outcome<BlobInfo> upload(SiteId site, DeployId id, String path, byte[] bytes) {
    return upload(site, id, path, new ByteArrayInputStream(bytes), bytes.length);
  }

  private static <T> T require(Outcome<T> outcome) {
    if (!outcome.ok()) {
      throw outcome.failure();
    }
    return outcome.value();
  }

  /** A refusal of the other side ends the check quietly; anything else is the op's violation. */
  private static void rethrowUnlessRefused(Outcome<?> outcome) {
    if (!outcome.ok() && !isAny(outcome.failure(), REFUSALS)) {
      throw outcome.failure();
    }
  }

  /**
   * Whether a race's outcome can be checked: the upload settled, was refused by design or
   * succeeded, and no actor but this workload and GC touched the site since {@code mark}.
   */
  private boolean checkable(SiteId site, long mark, Outcome<BlobInfo> up) {
    if (!up.ok() && !isAny(up.failure(), REFUSALS)) {
      throw up.failure();
    }
    if (!up.ok() && !isAny(up.failure(), SETTLED)) {
      count("race.unchecked.upload-unsettled");
      return false;
    }
    List<AuditEntry> since = metadata.auditLog(site, 200);
    boolean complete = since.size() < 200 || since.get(since.size() - 1).id() <= mark;
    boolean foreign =
        since.stream()
            .filter(a -> a.id() > mark)
            .anyMatch(a -> !a.actor().equals(actor) && !a.actor().value().equals(GC_ACTOR));
    if (!complete || foreign) {
      count("race.unchecked.interference");
      return false;
    }
    return true;
  }

  private long auditMark(SiteId site) {
    return metadata.auditLog(site, 1).stream().mapToLong(AuditEntry::id).findFirst().orElse(0);
  }

  // ---- restores and the background GC --------------------------------------------------------

  /** Engine runs, on the bus's thread: pairs each finished {@code gc-site} with its start. */
  private void onRun(dev.durabledeploy.spi.events.LifecycleEvent event) {
    if (event instanceof OperationEvent.DeadLettered dead) {
      violation(
          "dead-lettered: "
              + dead.operationId()
              + " of "
              + dead.operation()
              + " after "
              + dead.attempts()
              + " attempts: "
              + dead.error());
      return;
    }
    if (!(event instanceof OperationEvent op) || !SiteGc.WORKFLOW.equals(op.operation())) {
      return;
    }
    if (op instanceof OperationEvent.Started s) {
      gcRunsStarted.put(s.operationId(), s.at());
    } else if (op instanceof OperationEvent.Succeeded s) {
      Instant started = gcRunsStarted.remove(s.operationId());
      for (Watch w : watches.keySet()) {
        if (started != null && w.site().equals(s.site()) && !started.isBefore(w.restoredAt())) {
          if (watches.remove(w) != null) {
            followedByGc.add(w);
          }
        }
      }
    } else if (op.isTerminal()) {
      gcRunsStarted.remove(op.operationId());
    }
  }

  /**
   * For each restore a background GC has followed: that GC did not trash the deploy (the audit log
   * says who tombstoned what, and when), and while the restore is fresh the plan keeps it for it.
   * Restores no GC followed within {@link #WATCH} are counted and dropped.
   */
  private void checkWatchedRestores() {
    Instant now = Instant.now();
    for (Watch w : watches.keySet()) {
      if (now.isAfter(w.restoredAt().plus(WATCH)) && watches.remove(w) != null) {
        count("restore.no-gc-seen");
      }
    }
    Watch w;
    while ((w = followedByGc.poll()) != null) {
      try {
        checkRestore(w);
      } catch (RuntimeException e) {
        if (!isAny(e, REFUSALS)) {
          violation("checking the restore of " + w.id() + " threw " + describe(e));
        }
      }
    }
  }

  private void checkRestore(Watch w) {
    count("restore.followed-by-gc");
    Instant until = w.restoredAt().plus(Plane.OPTIONS.grace());
    for (AuditEntry a : metadata.auditLog(w.site(), 200)) {
      if (a.action().equals(MetadataCommands.ACTION_TOMBSTONE)
          && a.target().equals(w.id().value())
          && a.actor().value().equals(GC_ACTOR)
          && !a.at().isBefore(w.restoredAt())) {
        expect(
            !a.at().isBefore(until),
            w.site(),
            "GC trashed "
                + w.id()
                + " "
                + Duration.between(w.restoredAt(), a.at()).toMillis()
                + " ms after its restore, within grace");
      }
    }
    Optional<Deploy> live = deploys.deploy(w.site(), w.id());
    if (live.isPresent()
        && w.restoredAt().equals(live.get().restoredAt())
        && Instant.now().isBefore(until)) {
      GcPlan plan = plane.gc().plan(w.site());
      plan.keeps().stream()
          .filter(k -> k.deployId().equals(w.id()))
          .findFirst()
          .ifPresent(
              k -> {
                if (k.reasons().equals(Set.of(KeepReason.RESTORED))) {
                  count("restore.kept-only-because-restored");
                }
              });
    }
  }

  // ---- checks ----------------------------------------------------------------------------------

  private void expectBytes(
      BlobPrefix prefix, String path, byte[] bytes, SiteId site, String whose) {
    Optional<BlobContent> content = inspect.get(prefix.resolve(path));
    String found;
    if (content.isEmpty()) {
      found = "nothing";
    } else {
      try (BlobContent c = content.get()) {
        byte[] stored = c.readAllBytes();
        found =
            java.util.Arrays.equals(stored, bytes)
                ? null
                : stored.length + " other bytes (SHA-256 " + sha256(stored) + ")";
      }
    }
    expect(
        found == null,
        site,
        whose + ": " + prefix + path + " holds " + found + ", not its " + bytes.length + " bytes");
  }

  private void expect(boolean holds, SiteId site, String violation) {
    checks.incrementAndGet();
    if (!holds) {
      violation(site + ": " + violation);
    }
  }

  private void violation(String text) {
    log.accept("VIOLATION " + text.replace('\n', ' '));
    if (violations.size() < MAX_VIOLATIONS) {
      violations.add(text);
    }
  }

  private void count(String counter) {
    add(counter, 1);
  }

  private void add(String counter, long delta) {
    counters.computeIfAbsent(counter, k -> new AtomicLong()).addAndGet(delta);
  }

  static boolean isAny(Throwable e, List<Class<? extends RuntimeException>> kinds) {
    return kinds.stream().anyMatch(k -> k.isInstance(e));
  }

  static String describe(Throwable e) {
    StackTraceElement[] at = e.getStackTrace();
    return e.getClass().getName()
        + ": "
        + e.getMessage()
        + (at.length > 0 ? " at " + at[0] : "")
        + (e.getCause() != null && e.getCause() != e
            ? "; caused by " + describe(e.getCause())
            : "");
  }

  static byte[] text(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  static String sha256(byte[] bytes) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JDK has SHA-256", e);
    }
  }
}
