package dev.durabledeploy.testkit.tck;

import static org.assertj.core.api.Assertions.assertThat;

import dev.durabledeploy.spi.health.Health;
import dev.durabledeploy.spi.health.HealthStatus;
import dev.durabledeploy.spi.lock.SiteLock;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * What every store's {@code health()} must do: a live store answers (UP, or DEGRADED saying why),
 * and no detail carries the store's secret. Site locks that report {@code heldHere} count the locks
 * this store holds.
 */
public abstract class StoreHealthContract extends StoreFixture {

  /** The password the store was built with, which no detail may show; null when it has none. */
  protected String secret() {
    return null;
  }

  private Map<String, Health> parts() {
    return Map.of(
        "metadata", store.metadata().health(),
        "site-locks", store.siteLocks().health(),
        "leases", store.jobLeases().health());
  }

  @Test
  @DisplayName("every part of a live store answers UP, or DEGRADED with a reason")
  void liveStoreAnswers() {
    parts()
        .forEach(
            (name, health) -> {
              assertThat(health.status()).as(name + " " + health).isNotEqualTo(HealthStatus.DOWN);
              if (health.status() == HealthStatus.DEGRADED) {
                assertThat(health.details()).as(name).containsKey("reason");
              }
            });
  }

  @Test
  @DisplayName("no detail of any part shows the store's password")
  void noSecrets() {
    String secret = secret();
    parts()
        .forEach(
            (name, health) ->
                health
                    .details()
                    .forEach(
                        (key, value) -> {
                          if (secret != null) {
                            assertThat(String.valueOf(value))
                                .as(name + "." + key)
                                .doesNotContain(secret);
                          }
                          assertThat(String.valueOf(value))
                              .as(name + "." + key)
                              .doesNotContain("://");
                        }));
  }

  @Test
  @DisplayName("the site locks count a lock while this store holds it")
  void heldLocksCounted() {
    if (!store.siteLocks().health().details().containsKey("heldHere")) {
      return; // a store of its own may report other details
    }
    assertThat(store.siteLocks().health().details()).containsEntry("heldHere", 0L);
    try (SiteLock lock = store.siteLocks().acquire(SITE, Duration.ofSeconds(5))) {
      assertThat(store.siteLocks().health().details()).containsEntry("heldHere", 1L);
    }
    assertThat(store.siteLocks().health().details()).containsEntry("heldHere", 0L);
  }
}
