package dev.durabledeploy.store.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import dev.durabledeploy.spi.JobKey;
import dev.durabledeploy.spi.Store;
import dev.durabledeploy.spi.health.Health;
import dev.durabledeploy.spi.health.HealthStatus;
import dev.durabledeploy.testkit.MutableClock;
import dev.durabledeploy.testkit.fixtures.PostgresExtension;
import dev.durabledeploy.testkit.tck.StoreHealthContract;
import java.time.Duration;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class PgStoreHealthTest extends StoreHealthContract {
  @RegisterExtension static final PostgresExtension PG = new PostgresExtension();

  @Override
  protected Store createStore(MutableClock clock) {
    return PgStores.fresh(PG, clock);
  }

  @Override
  protected String secret() {
    return PG.password();
  }

  @Test
  @DisplayName("the metadata store reports its pool, the leases how many expired")
  void details() {
    Health metadata = store.metadata().health();
    assertThat(metadata.status()).isEqualTo(HealthStatus.UP);
    assertThat(metadata.details()).containsKeys("poolActive", "poolIdle", "poolMax", "poolWaiting");
    assertThat(metadata.details()).containsEntry("poolWaiting", 0);

    assertThat(store.jobLeases().health().details())
        .containsEntry("leases", 0L)
        .containsEntry("expired", 0L);
    store.jobLeases().tryAcquire(JobKey.of("job-a"), "owner-a", Duration.ofSeconds(10));
    store.jobLeases().tryAcquire(JobKey.of("job-b"), "owner-b", Duration.ofSeconds(10));
    clock.advance(Duration.ofSeconds(11));
    assertThat(store.jobLeases().health().details())
        .containsEntry("leases", 2L)
        .containsEntry("expired", 2L);

    assertThat(store.siteLocks().health().details())
        .containsEntry("heldAll", 0L)
        .containsEntry("ttlMs", PgStores.LOCK_TTL.toMillis());
  }
}
