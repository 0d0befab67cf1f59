package dev.durabledeploy.spi;

import dev.durabledeploy.spi.lease.JobLeases;
import dev.durabledeploy.spi.lock.SiteLocks;
import dev.durabledeploy.spi.metadata.MetadataStore;
import dev.durabledeploy.spi.outbox.Outbox;
import java.util.List;
import java.util.Objects;

/** {@link Store#of}. */
record ComposedStore(
    MetadataStore metadata,
    Outbox outbox,
    SiteLocks siteLocks,
    JobLeases jobLeases,
    List<AutoCloseable> resources)
    implements Store {

  ComposedStore {
    Objects.requireNonNull(metadata, "metadata");
    Objects.requireNonNull(outbox, "outbox");
    Objects.requireNonNull(siteLocks, "siteLocks");
    Objects.requireNonNull(jobLeases, "jobLeases");
    resources = List.copyOf(resources);
  }

  @Override
  public void close() {
    RuntimeException first = null;
    for (AutoCloseable resource : resources) {
      try {
        resource.close();
      } catch (Exception e) {
        RuntimeException wrapped =
            e instanceof RuntimeException r
                ? r
                : new IllegalStateException(
                    "closing " + resource.getClass().getName() + " failed", e);
        if (first == null) {
          first = wrapped;
        } else {
          first.addSuppressed(wrapped);
        }
      }
    }
    if (first != null) {
      throw first;
    }
  }
}
