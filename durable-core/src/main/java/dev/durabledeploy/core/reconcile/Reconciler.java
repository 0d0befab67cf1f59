package dev.durabledeploy.core.reconcile;

import dev.durabledeploy.core.DeployOptions;
import dev.durabledeploy.core.alias.AliasProjection;
import dev.durabledeploy.core.alias.AliasProjection.Projected;
import dev.durabledeploy.core.deploy.BlobLayout;
import dev.durabledeploy.core.deploy.Marker;
import dev.durabledeploy.core.events.Operations;
import dev.durabledeploy.core.events.Operations.Operation;
import dev.durabledeploy.core.metadata.MetadataCommands;
import dev.durabledeploy.core.purge.SitePurge;
import dev.durabledeploy.core.purge.SiteTrash;
import dev.durabledeploy.core.retry.Retrier;
import dev.durabledeploy.spi.Actions;
import dev.durabledeploy.spi.Actor;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.Store;
import dev.durabledeploy.spi.blob.BlobContent;
import dev.durabledeploy.spi.blob.BlobInfo;
import dev.durabledeploy.spi.blob.BlobKey;
import dev.durabledeploy.spi.blob.BlobStore;
import dev.durabledeploy.spi.engine.WorkflowDefinition;
import dev.durabledeploy.spi.lock.SiteLock;
import dev.durabledeploy.spi.metadata.Alias;
import dev.durabledeploy.spi.metadata.AliasRow;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.spi.metadata.DeployState;
import dev.durabledeploy.spi.metadata.MetadataStore;
import dev.durabledeploy.spi.metadata.Site;
import dev.durabledeploy.spi.metadata.SiteState;
import dev.durabledeploy.spi.metadata.Tombstone;
import dev.durabledeploy.spi.outbox.OutboxStats;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Finds every presence drift between a site's bucket and its index (docs/invariants.md E6), every
 * finalized deploy whose bytes no longer match what its finalize verified (its marker records each
 * file's size, etag and SHA-256), and deploys a crashed finalize left sealed, and when asked,
 * repairs what is safe. Report-only by default. With {@code apply} it works under the site lock on
 * a fresh read, repairs what is safe (adopting marked prefixes, finishing half-done deletes,
 * restores and site purges), and performs destructive repairs (deleting abandoned bytes, dropping
 * rows whose bytes are gone) only for subjects older than the grace period and at most {@code
 * blastCap} of them. It refuses to repair anything when the bucket lists nothing for a site the
 * index says has deploys: a listing fault must never wipe a site. Aliases are never moved: drift on
 * them is reported. Their projections are the index's to dictate: one that is missing or disagrees
 * with its row is projected again, by {@link AliasProjection}.
 *
 * <p>No repair deletes bytes outright: abandoned uploads and trash without a tombstone get a
 * tombstone (through {@link MetadataCommands#tombstoneOrphan}) and sit in trash, restorable with
 * {@code deploys().restore(site, id)}, until the tombstone purge removes them after the recovery
 * window. A site only the bucket knows is adopted by {@link Backfill}.
 *
 * <p>Workflow {@code drift-detect} (cron) reconciles every site report-only, including sites that
 * only the bucket still knows (a purged site where a late upload left bytes), and publishes the
 * counts as the gauge {@code durable.drift}, tagged by {@code kind}.
 *
 * <p>A host's {@code reconcile(site, true)} asks the authorizer for {@link Actions#RECONCILE_APPLY}
 * first, as the actor of the view ({@link #as}; {@code system:reconcile} without one), and records
 * that actor on every repair. Report-only passes are reads and are not checked.
 */
public final class Reconciler {

  public static final String WORKFLOW = "drift-detect";
  private static final Actor RECONCILER = Actor.of("system:reconcile");

  private final Store store;
  private final MetadataStore metadata;
  private final MetadataCommands commands;
  private final BlobStore blobs;
  private final Operations operations;
  private final Retrier retrier;
  private final DeployOptions options;
  private final Backfill backfill;
  private final SitePurge sitePurge;
  private final AliasProjection projection;
  private final SiteTrash siteTrash;
  private final Map<DriftKind, AtomicInteger> lastCounts;
  private final Actor actor;

  public Reconciler(
      Store store,
      BlobStore blobs,
      Operations operations,
      Retrier retrier,
      DeployOptions options,
      MeterRegistry meters) {
    this.store = store;
    this.metadata = store.metadata();
    this.commands = new MetadataCommands(metadata);
    this.blobs = blobs;
    this.operations = operations;
    this.retrier = retrier;
    this.options = options;
    this.backfill = new Backfill(store, blobs, operations, retrier, options.lockTimeout());
    this.sitePurge = new SitePurge(metadata, blobs, retrier, operations.clock());
    this.projection = new AliasProjection(blobs, store, operations, retrier, options.lockTimeout());
    this.siteTrash = new SiteTrash(metadata, blobs, retrier, (s, d) -> {});
    this.actor = RECONCILER;
    this.lastCounts = new EnumMap<>(DriftKind.class);
    for (DriftKind kind : DriftKind.values()) {
      AtomicInteger count = new AtomicInteger();
      lastCounts.put(kind, count);
      Gauge.builder("durable.drift", count, AtomicInteger::get)
          .description("drifts found by the last drift-detect run, by kind")
          .tag("kind", kind.name().toLowerCase(java.util.Locale.ROOT))
          .register(meters);
    }
  }

  /** {@code base} with another actor; the gauges are shared. */
  private Reconciler(Reconciler base, Actor actor) {
    this.store = base.store;
    this.metadata = base.metadata;
    this.commands = base.commands;
    this.blobs = base.blobs;
    this.operations = base.operations;
    this.retrier = base.retrier;
    this.options = base.options;
    this.backfill = base.backfill;
    this.sitePurge = base.sitePurge;
    this.projection = base.projection;
    this.siteTrash = base.siteTrash;
    this.lastCounts = base.lastCounts;
    this.actor = actor;
  }

  /** The same reconciler, asking the authorizer about {@code actor} and recording it on repairs. */
  public Reconciler as(Actor actor) {
    return new Reconciler(this, java.util.Objects.requireNonNull(actor, "actor"));
  }

  /** The cron workflow: a report-only pass over every site. */
  public WorkflowDefinition definition() {
    return WorkflowDefinition.named(WORKFLOW)
        .retryPolicy(retrier.workflowPolicy())
        .handler(ctx -> detectAll());
  }

  /** Reconciles every site report-only and updates the {@code durable.drift} gauges. */
  public List<DriftReport> detectAll() {
    return operations.run(
        WORKFLOW,
        null,
        op -> {
          List<DriftReport> reports = new ArrayList<>();
          Map<DriftKind, Integer> totals = new HashMap<>();
          for (SiteId site : Sites.known(op, retrier, metadata, blobs, options.batchSize())) {
            DriftReport report = reconcile(site, false);
            reports.add(report);
            report.counts().forEach((k, n) -> totals.merge(k, n, Integer::sum));
          }
          lastCounts.forEach((kind, count) -> count.set(totals.getOrDefault(kind, 0)));
          return reports;
        });
  }

  /**
   * Finds the site's drift; with {@code apply}, repairs it as described on the class.
   *
   * @throws dev.durabledeploy.spi.exception.AccessDeniedException with {@code apply}, when the
   *     authorizer refuses {@link Actions#RECONCILE_APPLY}; nothing was locked or written
   */
  public DriftReport reconcile(SiteId site, boolean apply) {
    java.util.Objects.requireNonNull(site, "site");
    if (apply) {
      operations.authorize(actor, site, Actions.RECONCILE_APPLY);
    }
    return operations.run(
        apply ? "reconcile-apply" : "reconcile",
        site,
        op -> {
          if (!apply) {
            Optional<DriftReport> trashed = trashedSite(op, site, false);
            return trashed.isPresent()
                ? trashed.get()
                : scan(op, site).report(List.of(), List.of(), null);
          }
          // Lock: the site lock (E1); repairs act on a read taken under it.
          try (SiteLock lock = op.lockSite(store.siteLocks(), site, options.lockTimeout())) {
            Optional<DriftReport> trashed = trashedSite(op, site, true);
            if (trashed.isPresent()) {
              return trashed.get();
            }
            Scan scan = scan(op, site);
            return repair(op, site, scan);
          }
        });
  }

  /**
   * The report of a site whose bytes belong in the site trash, or are out of place for its record
   * (a trash or a restore that crashed half way): {@link DriftKind#SITE_TRASH_UNFINISHED}, repaired
   * with {@code apply} by moving the bytes where the record says. Empty for an active site whose
   * bytes are in place, which the full scan then checks. A trashed site is never scanned further:
   * its rows stay as they were for the restore while its bytes wait in the trash, so every deploy
   * would read as one whose bytes are gone.
   */
  private Optional<DriftReport> trashedSite(Operation op, SiteId site, boolean apply) {
    Optional<Site> record = retrier.call(op, () -> metadata.findSite(site));
    if (record.isEmpty()) {
      return Optional.empty();
    }
    boolean trashed = record.get().state() == SiteState.TRASHED;
    boolean unfinished = siteTrash.unfinished(op, record.get());
    if (!trashed && !unfinished) {
      return Optional.empty();
    }
    Instant now = operations.clock().instant();
    List<Drift> drifts =
        unfinished
            ? List.of(
                new Drift(
                    DriftKind.SITE_TRASH_UNFINISHED,
                    site.value(),
                    trashed
                        ? "the site is trashed and still has bytes under " + site + "/"
                        : "the site is active and still has bytes in its site trash"))
            : List.of();
    if (!apply || drifts.isEmpty()) {
      return trashed || !apply
          ? Optional.of(new DriftReport(site, now, drifts, List.of(), List.of(), null))
          : Optional.empty();
    }
    siteTrash.finish(op, record.get());
    if (!trashed) {
      // The restore's bytes are back: the rest of the site is checked as any active site's.
      return Optional.empty();
    }
    return Optional.of(new DriftReport(site, now, drifts, drifts, List.of(), null));
  }

  private record Scan(
      SiteId site,
      Instant at,
      BucketView bucket,
      Map<DeployId, Deploy> rows,
      Map<DeployId, Tombstone> tombstones,
      List<Alias> aliases,
      Map<AliasName, Projected> projections,
      Map<AliasName, AliasRow> deletedAliases,
      List<Drift> drifts) {

    DriftReport report(List<Drift> repaired, List<Drift> deferred, String refusal) {
      return new DriftReport(site, at, drifts, repaired, deferred, refusal);
    }
  }

  private Scan scan(Operation op, SiteId site) {
    Instant now = operations.clock().instant();
    BucketView bucket = retrier.call(op, () -> BucketView.read(blobs, site));
    Map<DeployId, Deploy> rows = new HashMap<>();
    retrier.call(op, () -> metadata.listDeploys(site)).forEach(d -> rows.put(d.id(), d));
    Map<DeployId, Tombstone> tombstones = new HashMap<>();
    retrier
        .call(op, () -> metadata.listTombstones(site))
        .forEach(t -> tombstones.put(t.deployId(), t));
    List<Alias> aliases = retrier.call(op, () -> metadata.listAliases(site));

    List<Drift> drifts = new ArrayList<>();
    boolean purgePending = sitePurge.pending(op, site);
    if (purgePending) {
      drifts.add(
          new Drift(
              DriftKind.PURGE_UNFINISHED, site.value(), "purgeSite started and did not finish"));
    }
    long markedPrefixes = bucket.deploys().values().stream().filter(Boolean::booleanValue).count();
    if (!purgePending
        && markedPrefixes > 0
        && rows.isEmpty()
        && tombstones.isEmpty()
        && aliases.isEmpty()) {
      drifts.add(
          new Drift(
              DriftKind.SITE_NOT_INDEXED,
              site.value(),
              "no row in the index; the bucket holds "
                  + markedPrefixes
                  + " marked deploy prefix(es) to adopt"));
    }
    bucket
        .deploys()
        .forEach(
            (id, marked) -> {
              if (tombstones.containsKey(id)) {
                drifts.add(
                    new Drift(
                        DriftKind.TOMBSTONE_WITH_LIVE_BYTES,
                        id.value(),
                        "deleted, but bytes remain under deploys/"));
              } else if (!rows.containsKey(id)) {
                drifts.add(
                    marked
                        ? new Drift(
                            DriftKind.MARKED_PREFIX_UNKNOWN,
                            id.value(),
                            "finalized bytes without a row")
                        : new Drift(
                            DriftKind.BYTES_WITHOUT_ROW,
                            id.value(),
                            "unfinished upload without a row"));
              }
            });
    rows.values().stream()
        .sorted(java.util.Comparator.comparing(Deploy::id))
        .forEach(
            d -> {
              if (bucket.trash().contains(d.id())) {
                drifts.add(
                    new Drift(
                        DriftKind.ROW_WITH_TRASH_BYTES,
                        d.id().value(),
                        "live row with bytes in trash"));
              } else if (d.isActive() && !bucket.deploys().containsKey(d.id())) {
                drifts.add(
                    new Drift(
                        DriftKind.ROW_WITHOUT_BYTES, d.id().value(), "active row without bytes"));
              } else if (d.isActive() && Boolean.TRUE.equals(bucket.deploys().get(d.id()))) {
                checkContent(op, site, d.id(), bucket, drifts);
              }
              if (d.state() == DeployState.FINALIZING) {
                drifts.add(
                    new Drift(
                        DriftKind.FINALIZE_UNFINISHED,
                        d.id().value(),
                        bucket.deploys().getOrDefault(d.id(), false)
                            ? "a finalize crashed after writing its marker"
                            : "a finalize crashed before writing its marker"));
              }
            });
    tombstones.values().stream()
        .sorted(java.util.Comparator.comparing(Tombstone::deployId))
        .forEach(
            t -> {
              // Like ROW_WITHOUT_BYTES, only a finalized deploy is owed bytes: a pending one
              // deleted before its first upload never had any.
              if (t.deploy().isActive()
                  && !bucket.trash().contains(t.deployId())
                  && !bucket.deploys().containsKey(t.deployId())) {
                drifts.add(
                    new Drift(
                        DriftKind.TOMBSTONE_WITHOUT_TRASH,
                        t.deployId().value(),
                        "tombstone without bytes"));
              }
            });
    bucket
        .trash()
        .forEach(
            id -> {
              if (!tombstones.containsKey(id) && !rows.containsKey(id)) {
                drifts.add(
                    new Drift(
                        DriftKind.TRASH_WITHOUT_TOMBSTONE,
                        id.value(),
                        "trash bytes without a tombstone"));
              }
            });
    for (Alias alias : aliases) {
      if (!rows.containsKey(alias.target())) {
        drifts.add(
            new Drift(
                DriftKind.ALIAS_TO_MISSING_DEPLOY,
                "alias:" + alias.name(),
                "targets "
                    + alias.target()
                    + (tombstones.containsKey(alias.target()) ? " (deleted)" : " (missing)")));
      }
    }
    Map<AliasName, Projected> projections = new TreeMap<>();
    bucket
        .aliases()
        .keySet()
        .forEach(
            name ->
                retrier
                    .call(op, () -> projection.read(site, name))
                    .ifPresent(p -> projections.put(name, p)));
    Map<AliasName, AliasRow> deletedAliases = new TreeMap<>();
    if (!purgePending) {
      checkProjections(op, site, bucket, aliases, projections, deletedAliases, drifts);
    }
    bucket
        .unrecognized()
        .forEach(p -> drifts.add(new Drift(DriftKind.UNRECOGNIZED_PREFIX, p, "not a deploy id")));
    bucket
        .foreign()
        .forEach(
            f ->
                drifts.add(
                    new Drift(
                        DriftKind.FOREIGN_KEY,
                        f.toString(),
                        "an object the library did not write ("
                            + f.size()
                            + " bytes); its key "
                            + f.reason())));
    return new Scan(
        site, now, bucket, rows, tombstones, aliases, projections, deletedAliases, drifts);
  }

  /**
   * How long after an alias change its projection may still be missing or behind without drift: the
   * alias-project run its event submitted may still be writing, or retrying.
   */
  public static final Duration PROJECTION_LAG = Duration.ofMinutes(1);

  /**
   * Compares each alias row with its projection object. A projection lags its row while the row's
   * {@code alias.changed} event is on its way, that is while the outbox holds an event as old as
   * the row's change (the event is written in the same atom), and for {@link #PROJECTION_LAG} after
   * the change; after that the disagreement is drift, and at once where no lag explains it (another
   * target at the row's version or a newer one). A projection naming a target for an alias without
   * a live row is an orphan: settled like a row by the alias's deleted row, or at once when the
   * index never had the alias (no event will come). A relay that does not run therefore shows as
   * outbox lag, not as drift.
   */
  private void checkProjections(
      Operation op,
      SiteId site,
      BucketView bucket,
      List<Alias> aliases,
      Map<AliasName, Projected> projections,
      Map<AliasName, AliasRow> deletedAliases,
      List<Drift> drifts) {
    if (aliases.isEmpty() && projections.isEmpty()) {
      return;
    }
    OutboxStats outbox = retrier.call(op, () -> store.outbox().stats());
    Instant oldestPending = outbox.undelivered() == 0 ? null : outbox.oldestUndeliveredAt();
    Instant lagged = operations.clock().instant().minus(PROJECTION_LAG);
    // Delivered is not yet projected: the relay acknowledges an event once the engine took the
    // run, and the run may still be writing (or retrying) the object.
    java.util.function.Predicate<Instant> settled =
        changed ->
            (oldestPending == null || oldestPending.isAfter(changed)) && !changed.isAfter(lagged);
    java.util.Set<AliasName> rowNames = new java.util.HashSet<>();
    for (Alias alias : aliases) {
      rowNames.add(alias.name());
      Projected seen = projections.get(alias.name());
      String row = "the row targets " + alias.target() + " at version " + alias.version();
      String subject = "alias:" + alias.name();
      if (seen == null) {
        if (settled.test(alias.updatedAt())) {
          drifts.add(
              new Drift(
                  DriftKind.ALIAS_PROJECTION_MISSING, subject, row + "; no projection object"));
        }
        continue;
      }
      boolean sameTarget = alias.target().equals(seen.target());
      boolean unexplained =
          seen.target() != null && !sameTarget && seen.version() >= alias.version();
      boolean behind = !sameTarget || seen.version() < alias.version();
      if (unexplained || (behind && settled.test(alias.updatedAt()))) {
        drifts.add(
            new Drift(
                DriftKind.ALIAS_PROJECTION_STALE,
                subject,
                row
                    + "; the projection "
                    + (seen.target() == null ? "a deletion" : seen.target())
                    + " at version "
                    + seen.version()));
      }
    }
    boolean orphans =
        projections.entrySet().stream()
            .anyMatch(e -> e.getValue().target() != null && !rowNames.contains(e.getKey()));
    if (orphans) {
      deletedAliases.putAll(retrier.call(op, () -> commands.deletedAliases(site)));
    }
    projections.forEach(
        (name, seen) -> {
          if (seen.target() == null || rowNames.contains(name)) {
            return; // a deleted alias stays projected as a deletion
          }
          AliasRow deleted = deletedAliases.get(name);
          if (deleted == null || settled.test(deleted.updatedAt())) {
            drifts.add(
                new Drift(
                    DriftKind.ALIAS_PROJECTION_ORPHAN,
                    "alias:" + name,
                    "the projection targets "
                        + seen.target()
                        + " at version "
                        + seen.version()
                        + (deleted == null
                            ? "; no alias row ever, the projection is its only record"
                            : "; the alias was deleted at version " + deleted.version())));
          }
        });
  }

  /**
   * Compares a finalized deploy's files with what its marker says finalize verified. The listing
   * gives sizes and etags; only a file whose etag changed costs a read (a stat for its recorded
   * SHA-256, or its bytes where the store recorded none).
   */
  private void checkContent(
      Operation op, SiteId site, DeployId id, BucketView bucket, List<Drift> drifts) {
    Marker marker = readMarker(op, site, id);
    if (marker == null || marker.verified().isEmpty()) {
      return; // unreadable (reported by backfill) or written before markers recorded files
    }
    Map<String, BlobInfo> listed = bucket.files().getOrDefault(id, Map.of());
    marker
        .verified()
        .forEach(
            (path, verified) -> {
              BlobInfo now = listed.get(path);
              String subject = id.value() + "/" + path;
              if (now == null) {
                drifts.add(
                    new Drift(
                        DriftKind.CONTENT_CHANGED, subject, "verified by finalize, now gone"));
              } else if (now.size() != verified.size()) {
                drifts.add(
                    new Drift(
                        DriftKind.CONTENT_CHANGED,
                        subject,
                        "size " + verified.size() + " verified, " + now.size() + " stored"));
              } else if (!java.util.Objects.equals(now.etag(), verified.etag())) {
                String change = contentChange(op, now, verified);
                if (change != null) {
                  drifts.add(new Drift(DriftKind.CONTENT_CHANGED, subject, change));
                }
              }
            });
    listed.forEach(
        (path, info) -> {
          if (!marker.verified().containsKey(path)) {
            drifts.add(
                new Drift(
                    DriftKind.FILE_ADDED_AFTER_FINALIZE,
                    id.value() + "/" + path,
                    "not among the files finalize verified"));
          }
        });
  }

  /**
   * Why an object whose etag changed has other bytes, or null when its SHA-256 shows it has not.
   */
  private String contentChange(Operation op, BlobInfo now, Marker.VerifiedFile verified) {
    if (verified.sha256() == null) {
      return "etag "
          + verified.etag()
          + " verified, "
          + now.etag()
          + " stored, and no SHA-256 to compare (a server-side copy of an object stored in parts"
          + " also re-tags it)";
    }
    String stored = now.sha256();
    if (stored == null) {
      stored = retrier.call(op, () -> blobs.stat(now.key())).map(BlobInfo::sha256).orElse(null);
    }
    if (stored == null) {
      stored = retrier.call(op, () -> hash(now.key()));
    }
    return verified.sha256().equals(stored)
        ? null
        : "SHA-256 " + verified.sha256() + " verified, " + stored + " stored";
  }

  private String hash(dev.durabledeploy.spi.blob.BlobKey key) {
    Optional<BlobContent> content = blobs.get(key);
    if (content.isEmpty()) {
      return "(gone)";
    }
    try (BlobContent c = content.get();
        java.security.DigestInputStream in =
            new java.security.DigestInputStream(
                c.stream(), java.security.MessageDigest.getInstance("SHA-256"))) {
      in.transferTo(java.io.OutputStream.nullOutputStream());
      return java.util.HexFormat.of().formatHex(in.getMessageDigest().digest());
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException("reading " + key + " to check its SHA-256 failed", e);
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JDK has SHA-256", e);
    }
  }

  private Marker readMarker(Operation op, SiteId site, DeployId id) {
    Optional<BlobContent> content = retrier.call(op, () -> blobs.get(BlobLayout.marker(site, id)));
    if (content.isEmpty()) {
      return null;
    }
    try (BlobContent c = content.get()) {
      return Marker.parse(c.readAllBytes());
    } catch (IllegalArgumentException unreadable) {
      return null;
    }
  }

  private DriftReport repair(Operation op, SiteId site, Scan scan) {
    if (scan.drifts().stream().anyMatch(d -> d.kind() == DriftKind.PURGE_UNFINISHED)) {
      // Someone asked for the whole site to go: finishing that settles every other drift, and an
      // empty listing is the expected state of a half-purged site, not a listing fault.
      sitePurge.purge(op, site, actor);
      return scan.report(scan.drifts(), List.of(), null);
    }
    boolean indexHasDeploys =
        scan.rows().values().stream().anyMatch(Deploy::isActive) || !scan.tombstones().isEmpty();
    if (scan.bucket().isEmpty() && indexHasDeploys) {
      return scan.report(
          List.of(),
          List.of(),
          "the bucket lists nothing for this site but the index holds "
              + scan.rows().size()
              + " deploys and "
              + scan.tombstones().size()
              + " tombstones; refusing to repair (check the blob store's listing and credentials)");
    }
    List<Drift> repaired = new ArrayList<>();
    List<Drift> deferred = new ArrayList<>();
    Scan found = scan;
    Optional<Drift> notIndexed =
        scan.drifts().stream().filter(d -> d.kind() == DriftKind.SITE_NOT_INDEXED).findFirst();
    if (notIndexed.isPresent()) {
      // Adopt the whole site the way a host's backfill would (one code path for it), then repair
      // what is left on a fresh read: the prefixes it adopted are settled, whatever else it leaves
      // (an unreadable marker, an orphan projection) is drift of an indexed site.
      backfill.as(actor).backfillLocked(op, site);
      scan = scan(op, site);
      List<Drift> left = scan.drifts();
      found.drifts().stream().filter(d -> !left.contains(d)).forEach(repaired::add);
    }
    int destructive = 0;
    for (Drift drift : scan.drifts()) {
      if (drift.kind() == DriftKind.FILE_ADDED_AFTER_FINALIZE) {
        int slash = drift.subject().indexOf('/');
        DeployId owner = DeployId.of(drift.subject().substring(0, slash));
        Deploy row = scan.rows().get(owner);
        boolean settled =
            row != null
                && row.finalizedAt() != null
                && !scan.at().isBefore(row.finalizedAt().plus(options.grace()));
        if (!settled || destructive >= options.blastCap()) {
          deferred.add(drift);
          continue;
        }
        destructive++;
        BlobKey file = BlobLayout.deploy(site, owner).resolve(drift.subject().substring(slash + 1));
        retrier.run(op, () -> blobs.delete(file));
        repaired.add(drift);
        continue;
      }
      Optional<DeployId> id = parseId(drift.subject());
      boolean pastGrace =
          id.isPresent() && !scan.at().isBefore(id.get().createdAt().plus(options.grace()));
      switch (drift.kind()) {
        case SITE_NOT_INDEXED -> deferred.add(drift); // no marker was readable: a human decides
        case ALIAS_PROJECTION_MISSING, ALIAS_PROJECTION_STALE, ALIAS_PROJECTION_ORPHAN -> {
          AliasName name = AliasName.of(drift.subject().substring("alias:".length()));
          Projected seen = scan.projections().get(name);
          AliasRow deleted = scan.deletedAliases().get(name);
          if (drift.kind() == DriftKind.ALIAS_PROJECTION_ORPHAN) {
            // Projecting the deletion takes the alias away from a serve plane: within the blast
            // cap, and only where the index deleted the alias. With no row ever (a lost index
            // adopted from its bucket) the projection is the one record of the alias, and
            // restoring it (a promote) is a human's call.
            if (deleted == null || destructive >= options.blastCap()) {
              deferred.add(drift);
              continue;
            }
            destructive++;
          }
          long deletion = deleted == null ? 1 : deleted.version();
          Optional<Boolean> wrote =
              retrier.call(op, () -> projection.repair(site, name, seen, deletion));
          (wrote.isPresent() ? repaired : deferred).add(drift);
        }
        case MARKED_PREFIX_UNKNOWN -> {
          if (backfill.adopt(op, site, id.get(), actor)) {
            repaired.add(drift);
          } else {
            deferred.add(drift); // unreadable marker: a human decides
          }
        }
        case TOMBSTONE_WITH_LIVE_BYTES -> {
          retrier.run(
              op,
              () ->
                  blobs.movePrefix(
                      BlobLayout.deploy(site, id.get()),
                      BlobLayout.trash(site, id.get()),
                      op.fence()));
          repaired.add(drift);
        }
        case ROW_WITH_TRASH_BYTES -> {
          retrier.run(
              op,
              () ->
                  blobs.movePrefix(
                      BlobLayout.trash(site, id.get()),
                      BlobLayout.deploy(site, id.get()),
                      op.fence()));
          repaired.add(drift);
        }
        case BYTES_WITHOUT_ROW,
            ROW_WITHOUT_BYTES,
            TOMBSTONE_WITHOUT_TRASH,
            TRASH_WITHOUT_TOMBSTONE -> {
          boolean aliased = scan.aliases().stream().anyMatch(a -> a.target().equals(id.get()));
          if (!pastGrace || destructive >= options.blastCap() || aliased) {
            deferred.add(drift);
            continue;
          }
          destructive++;
          destroy(op, site, drift.kind(), id.get());
          repaired.add(drift);
        }
        case FINALIZE_UNFINISHED -> {
          // Under the site lock no finalize is running: this one crashed. Unsealing touches no
          // byte; the next finalize verifies the deploy again.
          retrier.call(op, () -> commands.abortFinalize(site, id.get(), actor));
          repaired.add(drift);
        }
        case FILE_ADDED_AFTER_FINALIZE -> throw new IllegalStateException("handled above");
        case SITE_TRASH_UNFINISHED -> throw new IllegalStateException("handled before the scan");
        case PURGE_UNFINISHED,
            ALIAS_TO_MISSING_DEPLOY,
            UNRECOGNIZED_PREFIX,
            CONTENT_CHANGED,
            FOREIGN_KEY -> {
          // Reported for a human: moving an alias, deleting an unknown prefix or a key the library
          // did not write, or choosing between changed bytes and a redeploy is not ours to guess.
        }
      }
    }
    return found.report(repaired, deferred, null);
  }

  private void destroy(Operation op, SiteId site, DriftKind kind, DeployId id) {
    switch (kind) {
      case BYTES_WITHOUT_ROW -> {
        // Not deleted: trashed like a deleted deploy, record first and bytes second (V6), so a
        // wrong guess is restorable until the tombstone purge. Without a marker nothing says the
        // bytes were verified: the tombstone is of a PENDING deploy (finalize verifies it again).
        retrier.call(
            op,
            () ->
                commands.tombstoneOrphan(
                    site, id, null, null, options.recoveryWindow(), RECONCILER));
        retrier.run(
            op,
            () ->
                blobs.movePrefix(
                    BlobLayout.deploy(site, id), BlobLayout.trash(site, id), op.fence()));
      }
      case TRASH_WITHOUT_TOMBSTONE -> {
        // The bytes are in trash already: a tombstone makes them restorable, and purged on time.
        Marker marker =
            backfill.readMarker(
                op, site, id, BlobLayout.trash(site, id).resolve(BlobLayout.MARKER_NAME));
        retrier.call(
            op,
            () ->
                commands.tombstoneOrphan(
                    site,
                    id,
                    marker == null ? null : marker.sha(),
                    marker == null ? null : marker.finalizedAt(),
                    options.recoveryWindow(),
                    RECONCILER));
      }
      case TOMBSTONE_WITHOUT_TRASH ->
          retrier.run(op, () -> commands.purgeTombstone(site, id, actor));
      case ROW_WITHOUT_BYTES -> {
        // The bytes are gone: the row goes the normal way, tombstone then purge.
        retrier.run(op, () -> commands.tombstone(site, id, java.time.Duration.ZERO, actor));
        retrier.run(op, () -> commands.purgeTombstone(site, id, actor));
      }
      default -> throw new IllegalArgumentException(kind + " is not destructive");
    }
  }

  private static Optional<DeployId> parseId(String subject) {
    try {
      return Optional.of(DeployId.of(subject));
    } catch (RuntimeException notAnId) {
      return Optional.empty();
    }
  }
}
