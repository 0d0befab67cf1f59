package dev.durabledeploy.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.durabledeploy.spi.lease.JobLeases;
import dev.durabledeploy.spi.lock.SiteLocks;
import dev.durabledeploy.spi.metadata.MetadataStore;
import dev.durabledeploy.spi.outbox.Outbox;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ComposedStoreTest {

  @SuppressWarnings("unchecked")
  private static <T> T stub(Class<T> type) {
    return (T)
        Proxy.newProxyInstance(
            type.getClassLoader(), new Class<?>[] {type}, (p, m, a) -> m.getName());
  }

  @Test
  void handsOutItsPartsAndClosesEveryResourceInOrder() {
    MetadataStore metadata = stub(MetadataStore.class);
    Outbox outbox = stub(Outbox.class);
    SiteLocks locks = stub(SiteLocks.class);
    JobLeases leases = stub(JobLeases.class);
    List<String> closed = new ArrayList<>();
    Store store =
        Store.of(
            metadata,
            outbox,
            locks,
            leases,
            () -> {
              closed.add("a");
              throw new java.io.IOException("a failed");
            },
            () -> closed.add("b"),
            () -> {
              closed.add("c");
              throw new IllegalStateException("c failed");
            });
    assertThat(store.metadata()).isSameAs(metadata);
    assertThat(store.outbox()).isSameAs(outbox);
    assertThat(store.siteLocks()).isSameAs(locks);
    assertThat(store.jobLeases()).isSameAs(leases);
    assertThatThrownBy(store::close)
        .hasMessageContaining("failed")
        .satisfies(e -> assertThat(e.getSuppressed()).hasSize(1));
    assertThat(closed).containsExactly("a", "b", "c");
  }

  @Test
  void refusesMissingParts() {
    assertThatThrownBy(
            () -> Store.of(null, stub(Outbox.class), stub(SiteLocks.class), stub(JobLeases.class)))
        .isInstanceOf(NullPointerException.class)
        .hasMessageContaining("metadata");
  }
}
