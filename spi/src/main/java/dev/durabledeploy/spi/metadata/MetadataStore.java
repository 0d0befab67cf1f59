package dev.durabledeploy.spi.metadata;

import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.health.Health;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;

/**
 * The deploy index as a store keeps it: deploys, aliases, tombstones and the audit log, written by
 * units of work over one site's rows and read by the queries below.
 *
 * <p>A store provides storage, not rules. The commands (create, finalize, alias moves, delete,
 * restore, purge) and their checks are decided once, in {@code durable-core}'s {@code
 * MetadataCommands}, each as one {@link #inSite unit of work}. What a store guarantees is the unit
 * of work itself: its reads, writes, audit entries and outbox events take effect all together or
 * not at all (one SQL transaction, one Valkey script commit guarded by the site's revision, one
 * monitor in memory), and two units of work on one site never interleave. The contract {@code
 * dev.durabledeploy.testkit.tck.MetadataStoreContract} checks atomicity, isolation, precision and
 * order on every store.
 *
 * <p>Time comes from the store's injected {@link java.time.Clock}. Transient backend trouble raises
 * {@link dev.durabledeploy.spi.exception.TransientStoreException}. Implementations are thread-safe;
 * mutual exclusion of whole sagas is the {@link dev.durabledeploy.spi.lock.SiteLocks site lock}'s
 * job, not this interface's.
 */
public interface MetadataStore {

  // ---- the unit of work --------------------------------------------------------------------

  /**
   * Runs {@code work} against {@code site}'s rows in one atom: the rows it writes, its audit
   * entries and its outbox events (appended in order to the same store's outbox) all take effect if
   * it returns, none if it throws (checked exceptions too); the exception reaches the caller as
   * thrown. No other unit of work on {@code site} runs in between, and queries from other threads
   * see either none or all of its writes. A store may run {@code work} more than once (an
   * optimistic retry), so it must have no effects outside {@link SiteRows}.
   *
   * <p>The rules every store enforces alike ({@link dev.durabledeploy.spi.support.UnitsOfWork}): a
   * unit of work or a query started from inside a running work is refused with {@link
   * IllegalStateException}; the work reads and writes only the rows its selection names, the
   * deploys aliases target and, after {@link SiteRows#removeAll}, anything; its rows refuse every
   * call once it has ended; a row of another site is refused with {@link IllegalArgumentException}.
   *
   * @param action what the work is (an audit action such as {@code deploy.activate}), for messages
   * @param rows the rows the work looks up
   * @return what {@code work} returned
   */
  <T> T inSite(String action, SiteId site, RowSelection rows, Function<SiteRows, T> work);

  // ---- queries -----------------------------------------------------------------------------

  Optional<Deploy> findDeploy(SiteId site, DeployId id);

  /** Every live (not tombstoned) deploy of the site, ordered by id (oldest first). */
  List<Deploy> listDeploys(SiteId site);

  Optional<Alias> findAlias(SiteId site, AliasName alias);

  /** Every alias of the site, ordered by name. Deleted aliases are not listed. */
  List<Alias> listAliases(SiteId site);

  Optional<Tombstone> findTombstone(SiteId site, DeployId id);

  /** Every tombstone of the site, ordered by deploy id. */
  List<Tombstone> listTombstones(SiteId site);

  /** Up to {@code limit} tombstones of any site with {@code expiresAt <= cutoff}, oldest first. */
  List<Tombstone> listExpiredTombstones(Instant cutoff, int limit);

  /**
   * Up to {@code limit} sites that have any deploy, alias or tombstone, ordered by id, starting
   * after {@code after} (null: from the first).
   */
  List<SiteId> listSites(SiteId after, int limit);

  /** The site's registry record, if it is registered. */
  Optional<Site> findSite(SiteId site);

  /**
   * Up to {@code limit} registered sites (any state), ordered by id, starting after {@code after}
   * (null: from the first).
   */
  List<Site> listRegisteredSites(SiteId after, int limit);

  /**
   * Up to {@code limit} {@link SiteState#TRASHED} sites with {@code purgeAfter <= cutoff}, oldest
   * {@code purgeAfter} first (ties by id).
   */
  List<Site> listExpiredSites(Instant cutoff, int limit);

  /** The newest {@code limit} audit entries of the site, newest first. */
  List<AuditEntry> auditLog(SiteId site, int limit);

  /**
   * What this store reports about itself (see {@link Health}), with details such as a pool's
   * connections in use; it may call the backend, and the plane bounds the call in time. Throws, or
   * reports DOWN, when the backend does not answer. The default reads one site id ({@link
   * #listSites}): a round trip and nothing more.
   */
  default Health health() {
    listSites(null, 1);
    return Health.up();
  }
}
