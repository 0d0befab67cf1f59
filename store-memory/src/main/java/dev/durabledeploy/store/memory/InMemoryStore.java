package dev.durabledeploy.store.memory;

import dev.durabledeploy.spi.Store;
import dev.durabledeploy.spi.lease.JobLeases;
import dev.durabledeploy.spi.lock.SiteLocks;
import dev.durabledeploy.spi.metadata.MetadataStore;
import dev.durabledeploy.spi.outbox.Outbox;
import dev.durabledeploy.spi.outbox.OutboxEvent;
import java.time.Clock;
import java.util.List;
import java.util.Objects;

/**
 * The reference {@link Store}: thread-safe, in one process, with exactly the SPI's semantics
 * (atomic commands, CAS, outbox claim order and lease expiry on the injected clock). It passes the
 * same TCK as the PostgreSQL and Valkey stores; use it for fast tests and as the embedded default.
 */
public final class InMemoryStore implements Store {

  // One monitor for metadata and outbox: a command and its events are one atom.
  private final Object atom = new Object();
  private final InMemoryOutbox outbox;
  private final InMemoryMetadataStore metadata;
  private final InMemorySiteLocks siteLocks = new InMemorySiteLocks();
  private final InMemoryJobLeases jobLeases;

  public InMemoryStore(Clock clock) {
    Objects.requireNonNull(clock, "clock");
    this.outbox = new InMemoryOutbox(atom, clock);
    this.metadata = new InMemoryMetadataStore(atom, clock, outbox);
    this.jobLeases = new InMemoryJobLeases(clock);
  }

  /** A store on the system clock. */
  public InMemoryStore() {
    this(Clock.systemUTC());
  }

  @Override
  public MetadataStore metadata() {
    return metadata;
  }

  @Override
  public Outbox outbox() {
    return outbox;
  }

  @Override
  public SiteLocks siteLocks() {
    return siteLocks;
  }

  @Override
  public JobLeases jobLeases() {
    return jobLeases;
  }

  /** Every event appended and not purged, delivered or not, in id order: for test assertions. */
  public List<OutboxEvent> allEvents() {
    return outbox.allEvents();
  }
}
