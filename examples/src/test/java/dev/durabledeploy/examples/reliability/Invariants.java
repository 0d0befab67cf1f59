package dev.durabledeploy.examples.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.durabledeploy.core.DurableDeploy;
import dev.durabledeploy.core.blob.FileSystemBlobStore;
import dev.durabledeploy.core.deploy.BlobLayout;
import dev.durabledeploy.core.gc.GcReport;
import dev.durabledeploy.core.reconcile.DriftReport;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.blob.BlobContent;
import dev.durabledeploy.spi.blob.BlobStore;
import dev.durabledeploy.spi.metadata.Alias;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.spi.metadata.MetadataStore;
import dev.durabledeploy.spi.metadata.Tombstone;
import dev.durabledeploy.testkit.fixtures.PostgresExtension;
import java.io.IOException;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import javax.sql.DataSource;
import org.awaitility.Awaitility;

/**
 * The checks on a final state, after the last crash and a recovery: delivery (nothing lost, one
 * side effect per event), nothing stuck (no lease or claim past its TTL), the retention and removal
 * invariants that a state or the audit log can show (V1, V3, V5, V6, V9; V2, V4, V7 and V8 are
 * properties of one plan, pinned by the planner's and GC's unit tests), zero drift after one
 * reconcile, and alias projections equal to their rows. Each check that runs is counted; each
 * failure is a violation with the site and what was found.
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
  Report check(List<SiteId> sites) throws SQLException {
    MetadataStore metadata = plane.store().metadata();
    BlobStore blobs = plane.blobs();
    for (SiteId site : sites) {
      plane.reconciler().reconcile(site, true);
      plane.gc().run(site, false);
    }
    for (SiteId site : sites) {
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
    // The repairs above appended events; everything the outbox holds must now reach the consumer.
    awaitDrained(plane);
    deadLetters(plane).forEach(violations::add);
    checks++;
    projectionsMatch(sites);
    nothingStuck();
    return delivery();
  }

  /**
   * Recovers a host a day ahead of now (grace, retention, recovery window and every lease have
   * passed, so the state is settled and re-running an activity must change nothing), runs the
   * checks, prints {@code summary} with the report and fails on any violation or undelivered event.
   */
  static Report recoverAndCheck(
      PostgresExtension pg, Path blobRoot, List<SiteId> sites, String summary) throws SQLException {
    try (Plane recovered =
        new Plane(
            pg.jdbcUrl(),
            pg.username(),
            pg.password(),
            new FileSystemBlobStore(blobRoot),
            Clock.offset(Clock.systemUTC(), Duration.ofDays(1)))) {
      recovered.deploy.start();
      Report report =
          new Invariants(recovered.deploy, pg.dataSource(), "durable_deploy").check(sites);
      System.out.println(summary + "; " + report);
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

  /** The alias projection saga converged: every alias object holds its row's target and version. */
  private void projectionsMatch(List<SiteId> sites) {
    for (SiteId site : sites) {
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
            + MetadataStore.ACTION_CREATE
            + "' WHERE t.action = '"
            + MetadataStore.ACTION_TOMBSTONE
            + "' AND t.actor = 'system:gc' AND t.at < c.at + interval '"
            + minimumAge.toMillis()
            + " milliseconds'"
            + (finalizedOnly
                ? " AND EXISTS (SELECT 1 FROM "
                    + schema
                    + ".audit_log a WHERE a.site = t.site AND a.target = t.target AND a.action = '"
                    + MetadataStore.ACTION_ACTIVATE
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
