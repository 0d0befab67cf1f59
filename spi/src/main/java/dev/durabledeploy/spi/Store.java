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
}
