package dev.durabledeploy.store.valkey;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.durabledeploy.spi.Store;
import dev.durabledeploy.spi.exception.TransientStoreException;
import dev.durabledeploy.spi.health.Health;
import dev.durabledeploy.spi.health.HealthStatus;
import dev.durabledeploy.testkit.MutableClock;
import dev.durabledeploy.testkit.fixtures.ValkeyExtension;
import dev.durabledeploy.testkit.fixtures.ValkeyServer;
import dev.durabledeploy.testkit.tck.StoreHealthContract;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import java.time.Duration;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

class ValkeyStoreHealthTest extends StoreHealthContract {

  @Override
  protected Store createStore(MutableClock clock) {
    return ValkeyStores.fresh(clock);
  }

  @Override
  protected String secret() {
    return ValkeyExtension.server().password();
  }

  @Test
  @DisplayName(
      "health reads the server's settings afresh: no persistence degrades the metadata, an"
          + " evicting policy every part")
  void settingsReadAfresh() {
    ValkeyServer server = ValkeyServer.startDedicated();
    RedisClient client = RedisClient.create(server.uri().toString());
    try (StatefulRedisConnection<String, String> admin = client.connect();
        ValkeyStore valkey =
            ValkeyStore.builder()
                .uri(server.uri().toString())
                .namespace(ValkeyExtension.newNamespace())
                .commandTimeout(Duration.ofSeconds(1))
                .build()) {
      Health metadata = valkey.metadata().health();
      assertThat(metadata.status()).isEqualTo(HealthStatus.DEGRADED);
      assertThat(metadata.details())
          .containsEntry("maxmemoryPolicy", "noeviction")
          .containsEntry("persistence", "none")
          .containsEntry("rdbLastBgsaveStatus", "ok");
      assertThat((String) metadata.details().get("reason")).contains("appendonly yes");
      assertThat(metadata.details().get("server")).asString().doesNotContain(server.password());
      // Locks and leases expire anyway: no persistence is right for them.
      assertThat(valkey.siteLocks().health().status()).isEqualTo(HealthStatus.UP);
      assertThat(valkey.jobLeases().health().status()).isEqualTo(HealthStatus.UP);

      // RDB snapshots rather than appendonly: after CONFIG SET appendonly yes the fixture's
      // stop() hung on the embedded server's exit.
      admin.sync().configSet("save", "3600 1");
      assertThat(valkey.metadata().health().status()).isEqualTo(HealthStatus.UP);
      assertThat(valkey.metadata().health().details()).containsEntry("persistence", "rdb");

      admin.sync().configSet("maxmemory-policy", "allkeys-lru");
      for (Health part :
          new Health[] {
            valkey.metadata().health(), valkey.siteLocks().health(), valkey.jobLeases().health()
          }) {
        assertThat(part.status()).isEqualTo(HealthStatus.DEGRADED);
        assertThat(part.details()).containsEntry("maxmemoryPolicy", "allkeys-lru");
        assertThat((String) part.details().get("reason")).contains("set noeviction");
      }
    } finally {
      client.shutdown();
      server.stop();
    }
  }

  @Test
  @DisplayName("a stopped server fails the probe with a transient error, and answers after restart")
  void stoppedServer() {
    ValkeyServer server = ValkeyServer.startDedicated();
    try (ValkeyStore valkey =
        ValkeyStore.builder()
            .uri(server.uri().toString())
            .namespace(ValkeyExtension.newNamespace())
            .commandTimeout(Duration.ofSeconds(1))
            .build()) {
      assertThat(valkey.siteLocks().health().status()).isEqualTo(HealthStatus.UP);
      server.stop();
      assertThatThrownBy(() -> valkey.metadata().health())
          .isInstanceOf(TransientStoreException.class)
          .hasMessageNotContaining(server.password());
      server.restart();
      await()
          .atMost(Duration.ofSeconds(30))
          .ignoreExceptions()
          .until(() -> valkey.siteLocks().health().status() == HealthStatus.UP);
    } finally {
      server.stop();
    }
  }
}
