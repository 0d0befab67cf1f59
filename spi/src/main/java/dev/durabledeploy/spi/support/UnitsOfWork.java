package dev.durabledeploy.spi.support;

import dev.durabledeploy.spi.Actor;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.metadata.AliasRow;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.spi.metadata.MetadataStore;
import dev.durabledeploy.spi.metadata.RowSelection;
import dev.durabledeploy.spi.metadata.SiteRows;
import dev.durabledeploy.spi.metadata.Tombstone;
import dev.durabledeploy.spi.outbox.NewEvent;
import java.time.Instant;
import java.util.HashSet;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Function;

/**
 * The rules every {@link MetadataStore#inSite unit of work} obeys, kept in one place so that every
 * store enforces them alike. A store calls {@link #requireStartable} first in {@code inSite}, runs
 * each work through {@link #run}, and calls {@link #requireOutside} first in every query:
 *
 * <ul>
 *   <li><b>No nesting.</b> A work (or a query) started on the thread of a running work is refused
 *       with {@link IllegalStateException}: a store's atom cannot hold two units of work, and what
 *       a nested one did would outlive an outer one that fails (or be repeated with each optimistic
 *       retry of the outer one).
 *   <li><b>The selection is the scope.</b> A work reads and writes the deploys and tombstones its
 *       {@link RowSelection} names, and the deploys the site's aliases targeted when it began;
 *       another one is refused with {@link IllegalStateException} naming it, as is any row of
 *       another site. (After {@link SiteRows#removeAll} the work knows the whole site, so it may
 *       write any row.) This is what lets a store read only the rows a work selected and still keep
 *       its counts exact.
 *   <li><b>A work's rows live as long as the work.</b> The {@link SiteRows} handed to a work refuse
 *       every call once it has returned or thrown.
 * </ul>
 *
 * Thread-safe; one instance per store.
 */
public final class UnitsOfWork {

  private final String store;
  private final ThreadLocal<SiteId> running = new ThreadLocal<>();

  /**
   * @param store the store's name, for messages (e.g. {@code "PostgreSQL metadata store"})
   */
  public UnitsOfWork(String store) {
    this.store = Objects.requireNonNull(store, "store");
  }

  /**
   * Runs {@code work} against {@code rows}, the store's view of {@code site}, with the rules above.
   * Call it inside the store's atom, once per attempt.
   */
  public <T> T run(
      String action,
      SiteId site,
      RowSelection selection,
      SiteRows rows,
      Function<SiteRows, T> work) {
    Objects.requireNonNull(work, "work");
    SiteId outer = running.get();
    if (outer != null) {
      throw nested(action + " on site " + site, outer);
    }
    Scoped scoped = new Scoped(action, site, selection, rows);
    running.set(site);
    try {
      return work.apply(scoped);
    } finally {
      scoped.open = false;
      running.remove();
    }
  }

  /**
   * Checks the arguments of {@link MetadataStore#inSite} and refuses a unit of work started from
   * inside a running one on this thread; call it first, before the store opens its atom.
   */
  public void requireStartable(String action, SiteId site, RowSelection selection) {
    Objects.requireNonNull(action, "action");
    Objects.requireNonNull(site, "site");
    Objects.requireNonNull(selection, "rows");
    requireOutside(action + " on site " + site);
  }

  /** Refuses a query made from inside a running unit of work on this thread. */
  public void requireOutside(String query) {
    SiteId outer = running.get();
    if (outer != null) {
      throw nested(query, outer);
    }
  }

  private IllegalStateException nested(String what, SiteId outer) {
    return new IllegalStateException(
        what
            + " was called on the "
            + store
            + " from inside a unit of work on site "
            + outer
            + ": a unit of work reads and writes through its SiteRows only; run the second"
            + " call after the first returns");
  }

  /** The work's view: the store's rows behind the rules above. */
  private final class Scoped implements SiteRows {
    final String action;
    final SiteId site;
    final RowSelection selection;
    final SiteRows rows;
    final Set<DeployId> selectedDeploys;
    final Set<DeployId> selectedTombstones;
    volatile boolean open = true;
    boolean cleared;

    /**
     * The deploys the site's aliases targeted when the work began (taken before its first move).
     */
    Set<DeployId> aliasedAtStart;

    Scoped(String action, SiteId site, RowSelection selection, SiteRows rows) {
      this.action = action;
      this.site = site;
      this.selection = selection;
      this.rows = rows;
      this.selectedDeploys = new HashSet<>(selection.deploys());
      this.selectedTombstones = new HashSet<>(selection.tombstones());
    }

    private void requireOpen() {
      if (!open) {
        throw new IllegalStateException(
            "the rows of "
                + action
                + " on site "
                + site
                + " were used after that unit of work ended; keep nothing of a SiteRows");
      }
    }

    private boolean everything() {
      return selection.wholeSite() || cleared;
    }

    private void requireDeploy(DeployId id) {
      requireOpen();
      Objects.requireNonNull(id, "deployId");
      if (everything() || selectedDeploys.contains(id)) {
        return;
      }
      if (!aliasedAtStart().contains(id)) {
        throw outside("deploy", id);
      }
    }

    private Set<DeployId> aliasedAtStart() {
      if (aliasedAtStart == null) {
        aliasedAtStart = new HashSet<>();
        for (AliasRow alias : rows.aliases().values()) {
          if (alias.target() != null) {
            aliasedAtStart.add(alias.target());
          }
        }
      }
      return aliasedAtStart;
    }

    private void requireTombstone(DeployId id) {
      requireOpen();
      Objects.requireNonNull(id, "deployId");
      if (!everything() && !selectedTombstones.contains(id)) {
        throw outside("tombstone", id);
      }
    }

    private IllegalStateException outside(String kind, DeployId id) {
      return new IllegalStateException(
          action
              + " on site "
              + site
              + " used "
              + kind
              + " "
              + id
              + ", which its RowSelection does not name (nor did an alias target it when the"
              + " work began): select every row a unit of work reads or writes");
    }

    private void requireSite(SiteId of, String kind) {
      if (!site.equals(of)) {
        throw new IllegalArgumentException(
            action + " on site " + site + " was given a " + kind + " of site " + of);
      }
    }

    @Override
    public Instant now() {
      requireOpen();
      return rows.now();
    }

    @Override
    public Instant stored(Instant at) {
      requireOpen();
      return rows.stored(at);
    }

    @Override
    public Deploy deploy(DeployId id) {
      requireDeploy(id);
      return rows.deploy(id);
    }

    @Override
    public Tombstone tombstone(DeployId id) {
      requireTombstone(id);
      return rows.tombstone(id);
    }

    @Override
    public Map<AliasName, AliasRow> aliases() {
      requireOpen();
      return rows.aliases();
    }

    @Override
    public int deployCount() {
      requireOpen();
      return rows.deployCount();
    }

    @Override
    public int tombstoneCount() {
      requireOpen();
      return rows.tombstoneCount();
    }

    @Override
    public dev.durabledeploy.spi.metadata.Site site() {
      requireOpen();
      return rows.site();
    }

    @Override
    public void putSite(dev.durabledeploy.spi.metadata.Site site) {
      Objects.requireNonNull(site, "site");
      requireOpen();
      requireSite(site.id(), "site record");
      rows.putSite(site);
    }

    @Override
    public void putDeploy(Deploy deploy) {
      Objects.requireNonNull(deploy, "deploy");
      requireSite(deploy.site(), "deploy");
      requireDeploy(deploy.id());
      rows.putDeploy(deploy);
    }

    @Override
    public void removeDeploy(DeployId id) {
      requireDeploy(id);
      rows.removeDeploy(id);
    }

    @Override
    public void putAlias(AliasName name, AliasRow row) {
      requireOpen();
      Objects.requireNonNull(name, "name");
      Objects.requireNonNull(row, "row");
      aliasedAtStart();
      rows.putAlias(name, row);
    }

    @Override
    public void putTombstone(Tombstone tombstone) {
      Objects.requireNonNull(tombstone, "tombstone");
      requireSite(tombstone.site(), "tombstone");
      requireTombstone(tombstone.deployId());
      rows.putTombstone(tombstone);
    }

    @Override
    public void removeTombstone(DeployId id) {
      requireTombstone(id);
      rows.removeTombstone(id);
    }

    @Override
    public void removeAll() {
      requireOpen();
      rows.removeAll();
      cleared = true;
    }

    @Override
    public void audit(Actor actor, String action, String target, String before, String after) {
      requireOpen();
      Objects.requireNonNull(actor, "actor");
      Objects.requireNonNull(action, "action");
      rows.audit(actor, action, target, before, after);
    }

    @Override
    public void emit(NewEvent event) {
      requireOpen();
      Objects.requireNonNull(event, "event");
      rows.emit(event);
    }
  }
}
