package dev.durabledeploy.spi;

import dev.durabledeploy.spi.lease.JobLeases;
import dev.durabledeploy.spi.lock.SiteLocks;
import dev.durabledeploy.spi.metadata.MetadataStore;
import dev.durabledeploy.spi.outbox.Outbox;

/**
 * One metadata backend (PostgreSQL, Valkey, in-memory) offering every part the core needs. The
 * metadata store and the outbox of one {@code Store} share their atoms: that is what makes the
 * outbox transactional.
 */
public interface Store extends AutoCloseable {

  MetadataStore metadata();

  Outbox outbox();

  SiteLocks siteLocks();

  JobLeases jobLeases();

  /** Releases pools and connections; the default does nothing. */
  @Override
  default void close() {}

  /**
   * A store assembled from parts, e.g. PostgreSQL's metadata store and outbox with Valkey's site
   * locks, job leases and metadata cache. {@code metadata} and {@code outbox} must come from the
   * same backend (or {@code metadata} be a cache in front of that backend's metadata store): the
   * metadata commands append their events in their own atom. {@link #close()} closes {@code
   * resources} in order, all of them even when one fails.
   */
  static Store of(
      MetadataStore metadata,
      Outbox outbox,
      SiteLocks siteLocks,
      JobLeases jobLeases,
      AutoCloseable... resources) {
    return new ComposedStore(metadata, outbox, siteLocks, jobLeases, java.util.List.of(resources));
  }
}
