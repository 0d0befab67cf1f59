package dev.durabledeploy.core.site;

import dev.durabledeploy.core.DeployOptions;
import dev.durabledeploy.core.deploy.BlobLayout;
import dev.durabledeploy.core.deploy.DeployService;
import dev.durabledeploy.core.events.Operations;
import dev.durabledeploy.core.metadata.MetadataCommands;
import dev.durabledeploy.core.purge.SitePurge;
import dev.durabledeploy.core.purge.SiteTrash;
import dev.durabledeploy.core.reconcile.Sites;
import dev.durabledeploy.core.retry.Retrier;
import dev.durabledeploy.spi.Actions;
import dev.durabledeploy.spi.Actor;
import dev.durabledeploy.spi.Inputs;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.Store;
import dev.durabledeploy.spi.blob.BlobPrefix;
import dev.durabledeploy.spi.blob.BlobStore;
import dev.durabledeploy.spi.engine.WorkflowDefinition;
import dev.durabledeploy.spi.exception.SiteBusyException;
import dev.durabledeploy.spi.lock.SiteLock;
import dev.durabledeploy.spi.metadata.MetadataStore;
import dev.durabledeploy.spi.metadata.Site;
import dev.durabledeploy.spi.metadata.SiteDeletion;
import dev.durabledeploy.spi.metadata.SiteProfile;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * Sites as records: register, read, list, update, delete (restorably), restore, purge for good, and
 * import the sites an index or a bucket already has. Each change is one unit of work that appends
 * its {@code site.registered} or {@code site.updated} event to the outbox (a purge for good appends
 * {@code site.deleted}), so a host's caches and serve plane follow through the relay; each event
 * carries the record's version.
 *
 * <p>Deleting, restoring and purging are {@link DeployService}'s sagas ({@link
 * DeployService#purgeSite}, {@link DeployService#restoreSite}, {@link DeployService#purgeSiteNow}),
 * reached here too so the registry is the whole of a site's lifecycle. Every change asks the
 * plane's {@link dev.durabledeploy.spi.Authorizer} first ({@code site.register}, {@code
 * site.update}, and the deploy service's {@code site.delete}, {@code site.restore}, {@code
 * site.purge}), as the view's actor. Immutable and thread-safe; {@link #as} gives a view that
 * records another actor.
 */
public final class SiteRegistry {

  /** Workflow {@code site-import}: {@link #importExisting()}, submitted by {@code start()}. */
  public static final String WORKFLOW = "site-import";

  /** Most records one {@link #list} page returns. */
  public static final int MAX_PAGE = 1_000;

  private static final Actor IMPORT = Actor.of("system:import");
  private static final int WALK_PAGE = 1_000;

  /**
   * One page of {@link #list}.
   *
   * @param next the cursor of the next page (pass it as {@code after}), or {@code null} after the
   *     last page
   */
  public record Page(List<Site> items, SiteId next) {
    public Page {
      items = List.copyOf(items);
    }
  }

  /**
   * What {@link #importExisting} found.
   *
   * @param registered sites it registered
   * @param alreadyRegistered sites that had a record
   * @param busy sites whose lock another operation held past the lock timeout: left unregistered
   *     for the next import (the cron's next run, or a call) to pick up
   */
  public record ImportReport(List<SiteId> registered, int alreadyRegistered, List<SiteId> busy) {
    public ImportReport {
      registered = List.copyOf(registered);
      busy = List.copyOf(busy);
    }
  }

  private final MetadataCommands commands;
  private final Store store;
  private final SitePurge sitePurge;
  private final SiteTrash siteTrash;
  private final Duration lockTimeout;
  private final Duration recoveryWindow;
  private final BlobStore blobs;
  private final Operations operations;
  private final Retrier retrier;
  private final DeployService deploys;
  private final Actor actor;

  /**
   * @param options the lock timeout the import waits for a site's lock with (it registers under
   *     it), and the recovery window of a site it imports as trashed
   */
  public SiteRegistry(
      Store store,
      BlobStore blobs,
      Operations operations,
      Retrier retrier,
      DeployService deploys,
      DeployOptions options) {
    this.commands = new MetadataCommands(store.metadata());
    this.store = store;
    this.sitePurge = new SitePurge(store.metadata(), blobs, retrier, operations.clock());
    // A site without a record has no uploads counted on any host (a first upload registers its
    // site), so there is no counter to forget.
    this.siteTrash = new SiteTrash(store.metadata(), blobs, retrier, (site, id) -> {});
    this.lockTimeout = options.lockTimeout();
    this.recoveryWindow = options.recoveryWindow();
    this.blobs = blobs;
    this.operations = operations;
    this.retrier = retrier;
    this.deploys = deploys;
    this.actor = Actor.SYSTEM;
  }

  private SiteRegistry(SiteRegistry base, Actor actor) {
    this.commands = base.commands;
    this.store = base.store;
    this.sitePurge = base.sitePurge;
    this.siteTrash = base.siteTrash;
    this.lockTimeout = base.lockTimeout;
    this.recoveryWindow = base.recoveryWindow;
    this.blobs = base.blobs;
    this.operations = base.operations;
    this.retrier = base.retrier;
    this.deploys = base.deploys.as(actor);
    this.actor = actor;
  }

  /** The same registry, recording {@code actor} in the audit log for every change. */
  public SiteRegistry as(Actor actor) {
    return new SiteRegistry(this, Objects.requireNonNull(actor, "actor"));
  }

  /**
   * Registers {@code site}. Idempotent: registered already with the same profile, the record is
   * returned unchanged.
   *
   * @throws dev.durabledeploy.spi.exception.SiteStateException when it is registered with another
   *     profile, trashed or being purged
   */
  public Site register(SiteId site, SiteProfile profile) {
    requireSite(site);
    Objects.requireNonNull(profile, "profile");
    operations.authorize(actor, site, Actions.SITE_REGISTER);
    return operations.run(
        "register-site",
        site,
        op -> retrier.call(op, () -> commands.registerSite(site, profile, actor)));
  }

  /** The site's record, in any state. */
  public Optional<Site> find(SiteId site) {
    requireSite(site);
    return commands.store().findSite(site);
  }

  /**
   * Up to {@code limit} records (1 to {@value #MAX_PAGE}) in id order, after {@code after} (null:
   * from the first), in every state.
   */
  public Page list(SiteId after, int limit) {
    Inputs.requireRange("limit", limit, 1, MAX_PAGE);
    List<Site> items = commands.store().listRegisteredSites(after, limit);
    return new Page(items, items.size() < limit ? null : items.get(items.size() - 1).id());
  }

  /**
   * Replaces the profile of an active site; with {@code expectedVersion > 0}, only if the record is
   * at that version (0: whatever it is).
   *
   * @throws dev.durabledeploy.spi.exception.SiteNotFoundException when it is not registered
   * @throws dev.durabledeploy.spi.exception.SiteStateException when it is trashed or purging, or at
   *     another version
   */
  public Site update(SiteId site, SiteProfile profile, long expectedVersion) {
    requireSite(site);
    Objects.requireNonNull(profile, "profile");
    operations.authorize(actor, site, Actions.SITE_UPDATE);
    return operations.run(
        "update-site",
        site,
        op -> retrier.call(op, () -> commands.updateSite(site, profile, expectedVersion, actor)));
  }

  /** Deletes the site restorably: {@link DeployService#purgeSite}. */
  public SiteDeletion delete(SiteId site) {
    return deploys.purgeSite(site);
  }

  /** Restores a deleted site within its recovery window: {@link DeployService#restoreSite}. */
  public Site restore(SiteId site) {
    return deploys.restoreSite(site);
  }

  /** Deletes the site for good, now: {@link DeployService#purgeSiteNow}. */
  public SiteDeletion purge(SiteId site) {
    return deploys.purgeSiteNow(site);
  }

  /**
   * Registers every site the index (any deploy, alias or tombstone) or the bucket (any object under
   * {@code <site>/}) has and the registry lacks, with the slug as display name and {@code
   * system:import} as owner; a site the bucket alone has gets its deploys from {@code reconcile} or
   * {@code backfill}. Idempotent; safe beside live traffic (a site registered meanwhile by its
   * first deploy counts as registered already).
   */
  public ImportReport importExisting() {
    operations.authorize(actor, null, Actions.SITE_REGISTER);
    return importUnchecked();
  }

  /** The import itself; the {@code site-import} workflow runs it as the library's own work. */
  private ImportReport importUnchecked() {
    return operations.run(
        WORKFLOW,
        null,
        op -> {
          List<SiteId> known = Sites.known(op, retrier, commands.store(), blobs, WALK_PAGE);
          List<SiteId> registered = new java.util.ArrayList<>();
          List<SiteId> busy = new java.util.ArrayList<>();
          int already = 0;
          int done = 0;
          for (SiteId site : known) {
            if (retrier.call(op, () -> commands.store().findSite(site)).isPresent()) {
              already++;
            } else {
              try {
                if (importOne(op, site)) {
                  registered.add(site);
                } else {
                  already++;
                }
              } catch (SiteBusyException held) {
                // One site held past the timeout (a long upload, a stalled host) must not keep
                // every other site out of the registry; the next import registers it.
                busy.add(site);
              }
            }
            op.progress(++done, known.size(), "imported " + site);
          }
          return new ImportReport(registered, already, busy);
        });
  }

  /**
   * Registers one site the walk found, under its lock: a purge for good that ran since the walk (or
   * is unfinished) has removed it, and registering it would bring back a site someone asked to
   * remove; another import (or a first deploy) may have registered it meanwhile. A site whose only
   * bytes are its site trash ({@code _trash-site/<site>/}: deleted, and its record lost since) is
   * registered {@code TRASHED}, so a restore can bring it back and the tombstone purge expires it.
   * Returns whether this call registered the site.
   */
  private boolean importOne(Operations.Operation op, SiteId site) {
    // Lock: the site lock (E1), so no purge runs between the check and the registration.
    try (SiteLock lock = op.lockSite(store.siteLocks(), site, lockTimeout)) {
      if (retrier.call(op, () -> commands.store().findSite(site)).isPresent()
          || sitePurge.pending(op, site)
          || !exists(op, site)) {
        return false;
      }
      if (!has(op, BlobLayout.site(site)) && has(op, BlobLayout.siteTrash(site))) {
        siteTrash.trash(op, site, recoveryWindow, IMPORT);
        return true;
      }
      try {
        retrier.call(
            op,
            () ->
                commands.registerSite(site, SiteProfile.of(site.value(), IMPORT.value()), IMPORT));
        return true;
      } catch (dev.durabledeploy.spi.exception.SiteStateException registeredMeanwhile) {
        // Registered (by its first deploy, or a host) between the check and the registration.
        return false;
      }
    }
  }

  /**
   * Whether the index or the bucket (live, deploy trash or site trash) has anything of the site.
   */
  private boolean exists(Operations.Operation op, SiteId site) {
    MetadataStore metadata = commands.store();
    return !retrier.call(op, () -> metadata.listDeploys(site)).isEmpty()
        || !retrier.call(op, () -> metadata.listTombstones(site)).isEmpty()
        || !retrier.call(op, () -> metadata.listAliases(site)).isEmpty()
        || BlobLayout.bytesOf(site).stream().anyMatch(prefix -> has(op, prefix));
  }

  private boolean has(Operations.Operation op, BlobPrefix prefix) {
    return !retrier.call(op, () -> blobs.list(prefix, null, 1)).items().isEmpty();
  }

  /** The {@code site-import} workflow. */
  public WorkflowDefinition definition() {
    return WorkflowDefinition.named(WORKFLOW)
        .retryPolicy(retrier.workflowPolicy())
        .handler(
            ctx -> {
              ImportReport report = importUnchecked();
              if (!report.busy().isEmpty()) {
                // The rest is registered; the engine runs the import again after its backoff
                // (idempotent), and dead-letters it, visibly, if the site stays held.
                throw new SiteBusyException(report.busy().get(0), lockTimeout);
              }
            });
  }

  private static void requireSite(SiteId site) {
    Objects.requireNonNull(site, "site");
  }
}
