package dev.durabledeploy.examples.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.durabledeploy.core.DurableDeploy;
import dev.durabledeploy.core.blob.FileSystemBlobStore;
import dev.durabledeploy.core.deploy.BlobLayout;
import dev.durabledeploy.core.deploy.Marker;
import dev.durabledeploy.core.gc.GcReport;
import dev.durabledeploy.core.metadata.MetadataCommands;
import dev.durabledeploy.core.reconcile.Drift;
import dev.durabledeploy.core.reconcile.DriftKind;
import dev.durabledeploy.core.reconcile.DriftReport;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.blob.BlobContent;
import dev.durabledeploy.spi.blob.BlobInfo;
import dev.durabledeploy.spi.blob.BlobPrefix;
import dev.durabledeploy.spi.blob.BlobStore;
import dev.durabledeploy.spi.metadata.Alias;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.spi.metadata.MetadataStore;
import dev.durabledeploy.spi.metadata.Site;
import dev.durabledeploy.spi.metadata.Tombstone;
import dev.durabledeploy.testkit.fixtures.PostgresExtension;
import java.io.IOException;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Predicate;
import javax.sql.DataSource;
import org.awaitility.Awaitility;

/**
 * The checks on a final state, after the last crash and a recovery: delivery (nothing lost, one
 * side effect per event, no event dead-lettered in the outbox, no workflow run in the engine),
 * nothing stuck (no lease or claim past its TTL), the retention and removal invariants that a state
 * or the audit log can show (V1, V3, V5, V6, V9; V2, V4, V7 and V8 are properties of one plan,
 * pinned by the planner's and GC's unit tests), zero drift after one reconcile, alias projections
 * equal to their rows, and issue 20's two:
 *
 * <ol>
 *   <li><b>A finalized deploy's bytes are what its finalize verified.</b> For every ACTIVE deploy
 *       (of a site with no purge half done, whose rows go next): the prefix holds every file the
 *       marker lists, with its size, etag and SHA-256, and bytes that hash to it; and no other
 *       file, but one: an upload that overlapped finalize and had not settled (withdrawn its file,
 *       or learnt it was verified) when its process was killed, or that ended in an outage or on a
 *       busy site lock, leaves its new file under the ACTIVE prefix, outside the marker. That is
 *       the documented window; the reconciler deletes such a file past grace. So the check before
 *       any repair accepts an extra file only if the workload recorded its upload as begun and not
 *       settled, and {@code reconcile(apply=false)} must report no {@code CONTENT_CHANGED} and
 *       {@code FILE_ADDED_AFTER_FINALIZE} only for those files; after the repair (a day later, past
 *       grace) the check runs again accepting none.
 *   <li><b>A restore is not undone by GC within grace.</b> Every tombstone GC made ({@code
 *       system:gc} in the audit log) comes at least {@code grace} after the deploy's last restore
 *       before it; every tombstone row that GC made has {@code restoredAt} null or {@code deletedAt
 *       >= restoredAt + grace}, and its {@code restoredAt} is the audit log's last restore.
 * </ol>
 *
 * The scenarios run both after every kill too ({@link #afterKill}), on the state the kill left,
 * before anything repairs it. Each check that runs is counted; each failure is a violation with the
 * site and what was found.
 */
final class Invariants {

  /** What the checks found. */
  record Report(
      long checks,
      List<String> violations,
      long eventsCommitted,
      long eventsDelivered,
      long redelivered,
      long extraDeliveries) {

    @Override
    public String toString() {
      return String.format(
          "%d invariant checks, %d violations; events committed %d, delivered %d (%d redelivered,"
              + " %d extra deliveries)",
          checks,
          violations.size(),
          eventsCommitted,
          eventsDelivered,
          redelivered,
          extraDeliveries);
    }
  }

  private static final ObjectMapper JSON = new ObjectMapper();

  private final DurableDeploy plane;
  private final DataSource db;
  private final String schema;
  private final List<String> violations = new ArrayList<>();
  private long checks;

  Invariants(DurableDeploy plane, DataSource db, String schema) {
    this.plane = plane;
    this.db = db;
    this.schema = schema;
  }

  /**
   * Repairs once ({@code reconcile(apply=true)} and GC on every site), then checks. The plane must
   * be started: the delivery checks wait for its relay to drain the outbox.
   */
  Report check(List<SiteId> sites, Set<String> unsettled) throws SQLException {
    MetadataStore metadata = plane.store().metadata();
    BlobStore blobs = plane.blobs();
    // Issue 20's invariants on the state as the last crash left it, before any repair.
    finalizedBytesUnchanged(sites, unsettled);
    restoresNotUndoneByGc();
    for (SiteId site : sites) {
      plane.reconciler().reconcile(site, true);
      plane.gc().run(site, false);
    }
    for (SiteId site : sites) {
      if (!isActive(site)) {
        trashedSiteKeptWhole(site);
        continue;
      }
      expect(
          blobs.list(BlobLayout.siteTrash(site), null, 1).items().isEmpty(),
          site,
          "an active site with bytes left in the site trash");
      DriftReport drift = plane.reconciler().reconcile(site, false);
      expect(drift.isClean(), site, "drift after one reconcile(apply=true): " + drift);
      // V9: a second repair and a second GC change nothing.
      DriftReport again = plane.reconciler().reconcile(site, true);
      expect(again.isClean(), site, "a second reconcile(apply=true) found work: " + again);
      GcReport gc = plane.gc().run(site, false);
      expect(gc.trashed().isEmpty(), site, "a second GC trashed " + gc.trashed());

      List<Deploy> deploys = metadata.listDeploys(site);
      List<Tombstone> tombstones = metadata.listTombstones(site);
      for (Alias alias : metadata.listAliases(site)) {
        if (alias.target() == null) {
          continue;
        }
        // V1: an aliased deploy is live, finalized and never in trash.
        Optional<Deploy> target =
            deploys.stream().filter(d -> d.id().equals(alias.target())).findFirst();
        expect(
            target.isPresent() && target.get().isActive(),
            site,
            "alias " + alias.name() + " targets " + alias.target() + ", not a live active deploy");
        expect(
            blobs.stat(BlobLayout.marker(site, alias.target())).isPresent(),
            site,
            "alias " + alias.name() + " targets " + alias.target() + " whose marker is gone");
        expect(
            blobs.list(BlobLayout.trash(site, alias.target()), null, 1).items().isEmpty(),
            site,
            "alias " + alias.name() + " targets " + alias.target() + " which has bytes in trash");
      }
      for (Deploy d : deploys) {
        if (d.isActive()) {
          expect(
              blobs.stat(BlobLayout.marker(site, d.id())).isPresent(),
              site,
              "active deploy " + d.id() + " has no marker");
        }
      }
      // V6: a tombstone has its bytes in trash (if it was ever finalized), none live.
      for (Tombstone t : tombstones) {
        expect(
            !t.deploy().isActive()
                || !blobs.list(BlobLayout.trash(site, t.deployId()), null, 1).items().isEmpty(),
            site,
            "tombstone of finalized " + t.deployId() + " without trash bytes");
        expect(
            blobs.list(BlobLayout.deploy(site, t.deployId()), null, 1).items().isEmpty(),
            site,
            "tombstone " + t.deployId() + " with live bytes");
      }
    }
    graceHonouredByGc();
    // Past grace, the repair has removed what unsettled uploads left: now no extra file at all.
    finalizedBytesUnchanged(sites, Set.of());
    // The recovery's own GC ran a day after every restore; the invariant holds for it too.
    restoresNotUndoneByGc();
    // The repairs above appended events; everything the outbox holds must now reach the consumer.
    awaitDrained(plane);
    deadLetters(plane).forEach(violations::add);
    checks++;
    outboxDeadLetters();
    projectionsMatch(sites);
    nothingStuck();
    return delivery();
  }

  /** Whether the site is registered and not trashed or purging (an unregistered one counts). */
  private boolean isActive(SiteId site) {
    return plane.store().metadata().findSite(site).map(Site::isActive).orElse(true);
  }

  /**
   * A trashed site, after one repair: nothing of it live (the serve plane has nothing to serve),
   * and every active deploy's marker and every alias target's in the site trash, so a restore
   * brings them back whole.
   */
  private void trashedSiteKeptWhole(SiteId site) {
    BlobStore blobs = plane.blobs();
    MetadataStore metadata = plane.store().metadata();
    List<String> live = new ArrayList<>();
    blobs.listAll(BlobLayout.site(site)).forEach(i -> live.add(i.key().value()));
    expect(live.isEmpty(), site, "a trashed site with live bytes " + live);
    for (Deploy d : metadata.listDeploys(site)) {
      expect(d.isActive(), site, "a trashed site kept the " + d.state() + " deploy " + d.id());
      expect(
          blobs
              .stat(
                  BlobLayout.siteTrash(site)
                      .resolve("deploys/" + d.id().value() + "/" + BlobLayout.MARKER_NAME))
              .isPresent(),
          site,
          "a trashed site's deploy " + d.id() + " has no marker in the site trash");
    }
    checks++;
  }

  /**
   * Recovers a host a day ahead of now (grace, retention, recovery window and every lease have
   * passed, so the state is settled and re-running an activity must change nothing), runs the
   * checks, prints {@code summary} with the report and fails on any violation (its own, or one of
   * {@code found} earlier by the scenario) or undelivered event. {@code unsettled}: {@code
   * site/deploy/path} of every upload the workloads began and did not settle.
   */
  static Report recoverAndCheck(
      PostgresExtension pg,
      Path blobRoot,
      List<SiteId> sites,
      Set<String> unsettled,
      List<String> found,
      String summary)
      throws SQLException {
    try (Plane recovered =
        new Plane(
            pg.jdbcUrl(),
            pg.username(),
            pg.password(),
            new FileSystemBlobStore(blobRoot),
            Clock.offset(Clock.systemUTC(), Duration.ofDays(1)))) {
      long began = System.nanoTime();
      recovered.deploy.start();
      Report report =
          new Invariants(recovered.deploy, pg.dataSource(), "durable_deploy")
              .check(sites, unsettled);
      System.out.println(
          summary
              + "; recovery ("
              + Duration.ofNanos(System.nanoTime() - began).toSeconds()
              + " s): "
              + report);
      found.forEach(v -> System.out.println("VIOLATION " + v));
      report.violations().forEach(v -> System.out.println("VIOLATION " + v));
      assertThat(found).as("violations before the recovery; " + summary).isEmpty();
      assertThat(report.violations()).as("violations; " + summary).isEmpty();
      assertThat(report.eventsCommitted()).as("events committed; " + summary).isPositive();
      assertThat(report.eventsDelivered())
          .as("events delivered; " + summary)
          .isEqualTo(report.eventsCommitted());
      return report;
    }
  }

  /**
   * The plane's dead-lettered runs, as violations: with the executor engine they live in memory
   * only, and their events are already acknowledged, so a host that dies with one loses its work.
   */
  static List<String> deadLetters(DurableDeploy plane) {
    return plane.engine().deadLetters(100).stream()
        .map(d -> "dead-lettered run of " + d.workflow() + ": " + d.lastError())
        .toList();
  }

  /** Waits (up to two relay lease TTLs and some) until the outbox has nothing undelivered. */
  static void awaitDrained(DurableDeploy plane) {
    Awaitility.await("the outbox drains")
        .atMost(Duration.ofSeconds(90))
        .pollInterval(Duration.ofMillis(100))
        .until(() -> plane.store().outbox().stats().undelivered() == 0);
  }

  /** What {@link #afterKill} found. */
  record Checked(long checks, List<String> violations) {}

  /**
   * Issue 20's two invariants and the outbox's dead letters, on the state a kill left, before
   * anything repairs it: nothing runs while they read. {@code inspector} is a plane that is never
   * started (it only reads); {@code unsettled} holds {@code site/deploy/path} of every upload begun
   * and not settled in any incarnation so far.
   */
  static Checked afterKill(
      Plane inspector, DataSource db, List<SiteId> sites, Set<String> unsettled)
      throws SQLException {
    Invariants invariants = new Invariants(inspector.deploy, db, "durable_deploy");
    invariants.finalizedBytesUnchanged(sites, unsettled);
    invariants.restoresNotUndoneByGc();
    invariants.outboxDeadLetters();
    return new Checked(invariants.checks, List.copyOf(invariants.violations));
  }

  /**
   * Invariant 1 of the class description on every ACTIVE deploy of {@code sites}, and the
   * reconciler's report-only view of the same: no {@code CONTENT_CHANGED}, and {@code
   * FILE_ADDED_AFTER_FINALIZE} only for a file in {@code unsettled}.
   */
  private void finalizedBytesUnchanged(List<SiteId> sites, Set<String> unsettled) {
    MetadataStore metadata = plane.store().metadata();
    BlobStore blobs = plane.blobs();
    AtomicLong counted = new AtomicLong();
    for (SiteId site : sites) {
      if (blobs.stat(BlobLayout.purgeIntent(site)).isPresent()) {
        continue; // a purge crashed between bytes and rows: its ACTIVE rows are going, not deploys
      }
      if (!isActive(site)) {
        continue; // trashed: its bytes are checked in the site trash, after the repair
      }
      for (Deploy d : metadata.listDeploys(site)) {
        if (d.isActive()) {
          String deploy = site + "/" + d.id() + "/";
          bytesAgainstMarker(
                  blobs, site, d.id(), path -> unsettled.contains(deploy + path), counted)
              .forEach(p -> violations.add(site + ": " + p));
        }
      }
      DriftReport before = plane.reconciler().reconcile(site, false);
      for (Drift drift : before.drifts()) {
        if (drift.kind() == DriftKind.CONTENT_CHANGED
            || (drift.kind() == DriftKind.FILE_ADDED_AFTER_FINALIZE
                && !unsettled.contains(site + "/" + drift.subject()))) {
          violations.add(site + ": the reconciler reports " + drift + " before any repair");
        }
      }
      checks++;
    }
    checks += counted.get();
  }

  /**
   * Invariant 1 of the class description for one ACTIVE deploy: the problems found, each a
   * sentence. A listed file the marker does not record is a problem unless {@code extraTolerated}
   * accepts its path (relative to the deploy). Reads every verified file's bytes; counts each file
   * compared in {@code checks}.
   */
  static List<String> bytesAgainstMarker(
      BlobStore blobs,
      SiteId site,
      DeployId id,
      Predicate<String> extraTolerated,
      AtomicLong checks) {
    List<String> problems = new ArrayList<>();
    checks.incrementAndGet();
    Optional<BlobContent> raw = blobs.get(BlobLayout.marker(site, id));
    if (raw.isEmpty()) {
      problems.add("finalized " + id + " has no marker");
      return problems;
    }
    Marker marker;
    try (BlobContent c = raw.get()) {
      marker = Marker.parse(c.readAllBytes());
    } catch (IllegalArgumentException e) {
      problems.add("the marker of finalized " + id + " is unreadable: " + e.getMessage());
      return problems;
    }
    if (marker.verified().isEmpty()) {
      problems.add("the marker of finalized " + id + " records no verified file");
    }
    BlobPrefix prefix = BlobLayout.deploy(site, id);
    Map<String, BlobInfo> listed = new TreeMap<>();
    for (BlobInfo info : blobs.listAll(prefix)) {
      String relative = info.key().relativeTo(prefix);
      if (!relative.equals(BlobLayout.MARKER_NAME)) {
        listed.put(relative, info);
      }
    }
    marker
        .verified()
        .forEach(
            (path, verified) -> {
              checks.incrementAndGet();
              String file = id + "/" + path;
              BlobInfo now = listed.get(path);
              if (now == null) {
                problems.add(file + " was verified by finalize and is gone");
              } else if (now.size() != verified.size()) {
                problems.add(
                    file + " is " + now.size() + " bytes, finalize verified " + verified.size());
              } else if (verified.etag() != null && !verified.etag().equals(now.etag())) {
                problems.add(
                    file + " has etag " + now.etag() + ", finalize verified " + verified.etag());
              } else if (verified.sha256() != null
                  && now.sha256() != null
                  && !verified.sha256().equals(now.sha256())) {
                problems.add(
                    file
                        + " is listed with SHA-256 "
                        + now.sha256()
                        + ", finalize verified "
                        + verified.sha256());
              } else if (verified.sha256() != null) {
                String hashed = hash(blobs, now.key());
                if (!verified.sha256().equals(hashed)) {
                  problems.add(
                      file
                          + " holds bytes hashing to "
                          + hashed
                          + ", finalize verified "
                          + verified.sha256());
                }
              }
            });
    listed.forEach(
        (path, info) -> {
          if (!marker.verified().containsKey(path)) {
            checks.incrementAndGet();
            if (!extraTolerated.test(path)) {
              problems.add(
                  id
                      + "/"
                      + path
                      + " is under the finalized deploy but not among the files finalize verified,"
                      + " and no upload of it was left unsettled");
            }
          }
        });
    return problems;
  }

  private static String hash(BlobStore blobs, dev.durabledeploy.spi.blob.BlobKey key) {
    Optional<BlobContent> content = blobs.get(key);
    if (content.isEmpty()) {
      return "(gone)";
    }
    try (BlobContent c = content.get()) {
      return Workload.sha256(c.readAllBytes());
    }
  }

  /** Invariant 2 of the class description, from the audit log and from the tombstone rows. */
  /** Every audit entry of one target, oldest first, for a violation's message. */
  private String trail(String site, String target) throws SQLException {
    StringBuilder out = new StringBuilder();
    try (Connection c = db.getConnection();
        java.sql.PreparedStatement q =
            c.prepareStatement(
                "SELECT at, actor, action, before, after FROM "
                    + schema
                    + ".audit_log WHERE site = ? AND target = ? ORDER BY id")) {
      q.setString(1, site);
      q.setString(2, target);
      try (ResultSet r = q.executeQuery()) {
        while (r.next()) {
          out.append(
              String.format(
                  "[%s %s %s %s -> %s] ",
                  r.getTimestamp(1),
                  r.getString(2),
                  r.getString(3),
                  r.getString(4),
                  r.getString(5)));
        }
      }
    }
    return out.toString();
  }

  private void restoresNotUndoneByGc() throws SQLException {
    long graceMillis = Plane.OPTIONS.grace().toMillis();
    String gcTombstonesAfterRestores =
        "SELECT t.site, t.target, t.at, r.at FROM "
            + schema
            + ".audit_log t JOIN LATERAL (SELECT at FROM "
            + schema
            + ".audit_log r WHERE r.site = t.site AND r.target = t.target AND r.action = '"
            + MetadataCommands.ACTION_RESTORE
            + "' AND r.id < t.id ORDER BY r.id DESC LIMIT 1) r ON true WHERE t.action = '"
            + MetadataCommands.ACTION_TOMBSTONE
            + "' AND t.actor = 'system:gc'";
    String tombstoneRows =
        "SELECT b.site, b.deploy_id, b.deleted_at, b.restored_at, (SELECT a.actor FROM "
            + schema
            + ".audit_log a WHERE a.site = b.site AND a.target = b.deploy_id AND a.action = '"
            + MetadataCommands.ACTION_TOMBSTONE
            + "' ORDER BY a.id DESC LIMIT 1), (SELECT a.at FROM "
            + schema
            + ".audit_log a WHERE a.site = b.site AND a.target = b.deploy_id AND a.action = '"
            + MetadataCommands.ACTION_RESTORE
            + "' ORDER BY a.id DESC LIMIT 1), (SELECT a.action FROM "
            + schema
            + ".audit_log a WHERE a.site = b.site AND a.target = b.deploy_id AND a.action IN ('"
            + MetadataCommands.ACTION_TOMBSTONE
            + "', '"
            + MetadataCommands.ACTION_TOMBSTONE_ORPHAN
            + "') ORDER BY a.id DESC LIMIT 1) FROM "
            + schema
            + ".tombstones b";
    try (Connection c = db.getConnection();
        Statement s = c.createStatement()) {
      try (ResultSet r = s.executeQuery(gcTombstonesAfterRestores)) {
        while (r.next()) {
          checks++;
          Timestamp trashed = r.getTimestamp(3);
          Timestamp restored = r.getTimestamp(4);
          long after = trashed.toInstant().toEpochMilli() - restored.toInstant().toEpochMilli();
          if (after < graceMillis) {
            violations.add(
                r.getString(1)
                    + ": GC trashed "
                    + r.getString(2)
                    + " "
                    + after
                    + " ms after its restore (grace is "
                    + graceMillis
                    + " ms); audit log");
          }
        }
      }
      checks++;
      try (ResultSet r = s.executeQuery(tombstoneRows)) {
        while (r.next()) {
          checks++;
          String where = r.getString(1) + ": tombstone of " + r.getString(2);
          Timestamp deleted = r.getTimestamp(3);
          Timestamp restored = r.getTimestamp(4);
          String by = r.getString(5);
          // A tombstone the reconciler made for bytes no row held starts a new history: the
          // restores of the deploy's earlier life (whose tombstone was purged while a restore's
          // bytes were already back) are not its own, and it has none.
          Timestamp auditRestored =
              MetadataCommands.ACTION_TOMBSTONE_ORPHAN.equals(r.getString(7))
                  ? null
                  : r.getTimestamp(6);
          if (!Objects.equals(
              restored == null ? null : restored.toInstant(),
              auditRestored == null ? null : auditRestored.toInstant())) {
            violations.add(
                where
                    + " says restored at "
                    + restored
                    + ", the audit log's last restore is at "
                    + auditRestored
                    + "; its audit trail: "
                    + trail(r.getString(1), r.getString(2)));
          }
          if ("system:gc".equals(by)
              && restored != null
              && deleted.toInstant().isBefore(restored.toInstant().plusMillis(graceMillis))) {
            violations.add(
                where
                    + " made by GC at "
                    + deleted
                    + ", less than grace after its restore at "
                    + restored);
          }
        }
      }
    }
  }

  /**
   * No event dead-lettered in the outbox: on PostgreSQL a dead letter has {@code delivered_at} set
   * too, so the delivery checks alone would count it as delivered.
   */
  private void outboxDeadLetters() {
    checks++;
    long dead = plane.store().outbox().stats().deadLettered();
    if (dead != 0) {
      violations.add(
          dead
              + " outbox events dead-lettered: "
              + plane.outboxDeadLetters().list(10).stream()
                  .map(d -> d.event().id() + " " + d.event().type())
                  .toList());
    }
  }

  /** The alias projection saga converged: every alias object holds its row's target and version. */
  private void projectionsMatch(List<SiteId> sites) {
    for (SiteId site : sites) {
      if (!isActive(site)) {
        continue; // a trashed site's projection waits in its trash, and is not served
      }
      for (Alias alias : plane.store().metadata().listAliases(site)) {
        Optional<BlobContent> object = plane.blobs().get(BlobLayout.alias(site, alias.name()));
        String found;
        if (object.isEmpty()) {
          found = "no object";
        } else {
          try (BlobContent content = object.get()) {
            JsonNode json = JSON.readTree(content.stream());
            found =
                json.path("deployId").asText("null")
                    + " at version "
                    + json.path("version").asLong();
          } catch (IOException e) {
            found = "unreadable object (" + e.getMessage() + ")";
          }
        }
        String expected =
            (alias.target() == null ? "null" : alias.target().value())
                + " at version "
                + alias.version();
        expect(
            found.equals(expected),
            site,
            "alias " + alias.name() + " projection holds " + found + ", the row " + expected);
      }
    }
  }

  /**
   * V3 and V5 from the audit log: GC tombstoned no deploy younger than grace, and no finalized
   * (marked) deploy younger than retention.
   */
  private void graceHonouredByGc() throws SQLException {
    checkGcAge("V3 grace", Plane.OPTIONS.grace(), false);
    checkGcAge("V5 retention of a marked deploy", Plane.OPTIONS.retention(), true);
  }

  private void checkGcAge(String rule, Duration minimumAge, boolean finalizedOnly)
      throws SQLException {
    String sql =
        "SELECT t.site, t.target, t.at - c.at FROM "
            + schema
            + ".audit_log t JOIN "
            + schema
            + ".audit_log c ON c.site = t.site AND c.target = t.target AND c.action = '"
            + MetadataCommands.ACTION_CREATE
            + "' WHERE t.action = '"
            + MetadataCommands.ACTION_TOMBSTONE
            + "' AND t.actor = 'system:gc' AND t.at < c.at + interval '"
            + minimumAge.toMillis()
            + " milliseconds'"
            + (finalizedOnly
                ? " AND EXISTS (SELECT 1 FROM "
                    + schema
                    + ".audit_log a WHERE a.site = t.site AND a.target = t.target AND a.action = '"
                    + MetadataCommands.ACTION_ACTIVATE
                    + "' AND a.at < t.at)"
                : "");
    try (Connection c = db.getConnection();
        Statement s = c.createStatement();
        ResultSet early = s.executeQuery(sql)) {
      checks++;
      while (early.next()) {
        violations.add(
            early.getString(1)
                + ": GC trashed "
                + early.getString(2)
                + " only "
                + early.getString(3)
                + " after it was created ("
                + rule
                + ")");
      }
    }
  }

  /** E4: no job lease and no outbox claim is left past its expiry. */
  private void nothingStuck() throws SQLException {
    try (Connection c = db.getConnection();
        Statement s = c.createStatement()) {
      checks++;
      try (ResultSet r =
          s.executeQuery(
              "SELECT job_key, owner FROM "
                  + schema
                  + ".job_leases WHERE expires_at IS NULL OR expires_at < now()")) {
        while (r.next()) {
          violations.add("job lease " + r.getString(1) + " of " + r.getString(2) + " is stuck");
        }
      }
      checks++;
      try (ResultSet r =
          s.executeQuery(
              "SELECT id, claimed_by FROM "
                  + schema
                  + ".outbox WHERE delivered_at IS NULL AND claim_expires_at < now()")) {
        while (r.next()) {
          violations.add(
              "outbox event " + r.getLong(1) + " claim of " + r.getString(2) + " expired");
        }
      }
    }
  }

  /** E3: every committed event delivered at least once; one side effect per event. */
  private Report delivery() throws SQLException {
    try (Connection c = db.getConnection();
        Statement s = c.createStatement()) {
      long committed = count(s, "SELECT count(*) FROM " + schema + ".outbox");
      checks++;
      try (ResultSet lost =
          s.executeQuery(
              "SELECT o.id, o.type, o.delivered_at IS NOT NULL FROM "
                  + schema
                  + ".outbox o LEFT JOIN harness_deliveries d ON d.event_id = o.id"
                  + " WHERE d.event_id IS NULL ORDER BY o.id LIMIT 20")) {
        while (lost.next()) {
          violations.add(
              "event "
                  + lost.getLong(1)
                  + " ("
                  + lost.getString(2)
                  + ") never reached the consumer"
                  + (lost.getBoolean(3) ? " though the outbox marks it delivered" : ""));
        }
      }
      checks++;
      long unknown =
          count(
              s,
              "SELECT count(*) FROM harness_deliveries d WHERE NOT EXISTS (SELECT 1 FROM "
                  + schema
                  + ".outbox o WHERE o.id = d.event_id)");
      if (unknown > 0) {
        violations.add(unknown + " side effects for events the outbox never committed");
      }
      return new Report(
          checks,
          List.copyOf(violations),
          committed,
          count(s, "SELECT count(*) FROM harness_deliveries"),
          count(s, "SELECT count(*) FROM harness_deliveries WHERE deliveries > 1"),
          count(s, "SELECT coalesce(sum(deliveries - 1), 0) FROM harness_deliveries"));
    }
  }

  private static long count(Statement s, String sql) throws SQLException {
    try (ResultSet r = s.executeQuery(sql)) {
      r.next();
      return r.getLong(1);
    }
  }

  private void expect(boolean holds, SiteId site, String violation) {
    checks++;
    if (!holds) {
      violations.add(site + ": " + violation);
    }
  }
}
