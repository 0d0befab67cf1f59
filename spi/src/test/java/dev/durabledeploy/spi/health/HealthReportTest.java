package dev.durabledeploy.spi.health;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

@DisplayName("a health report is a plain value")
class HealthReportTest {

  @Test
  @DisplayName("the plane's status is the worst of its components'")
  void worstWins() {
    Map<String, Health> components = new LinkedHashMap<>();
    components.put("a", Health.up());
    components.put("b", Health.degraded(Map.of("reason", "behind")));
    assertThat(HealthReport.of(Instant.EPOCH, components).status())
        .isEqualTo(HealthStatus.DEGRADED);
    components.put("c", Health.down(Map.of("reason", "gone")));
    HealthReport report = HealthReport.of(Instant.EPOCH, components);
    assertThat(report.status()).isEqualTo(HealthStatus.DOWN);
    assertThat(report.components().keySet()).containsExactly("a", "b", "c");
    assertThatThrownBy(() -> new HealthReport(HealthStatus.UP, Instant.EPOCH, components))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("worst");
    assertThatThrownBy(() -> report.component("d")).hasMessageContaining("[a, b, c]");
    assertThat(HealthReport.of(Instant.EPOCH, Map.of()).status()).isEqualTo(HealthStatus.UP);
  }

  @Test
  @DisplayName("details are strings, numbers or booleans, in the order given, and cannot change")
  void details() {
    Map<String, Object> given = new LinkedHashMap<>();
    given.put("latencyMs", 3L);
    given.put("policy", "noeviction");
    given.put("running", true);
    Health h = Health.up(given);
    given.put("later", "x");
    assertThat(h.details().keySet()).containsExactly("latencyMs", "policy", "running");
    assertThatThrownBy(() -> h.details().put("x", "y"))
        .isInstanceOf(UnsupportedOperationException.class);
    assertThat(h.withDetail("extra", 1).details()).containsEntry("extra", 1).hasSize(4);
    assertThat(h.atWorst(HealthStatus.DEGRADED).status()).isEqualTo(HealthStatus.DEGRADED);
    assertThat(Health.down(Map.of()).atWorst(HealthStatus.DEGRADED).status())
        .isEqualTo(HealthStatus.DOWN);

    assertThatThrownBy(() -> Health.up(Map.of("list", List.of(1))))
        .hasMessageContaining("'list' must be a string, a number or a boolean");
    assertThatThrownBy(() -> Health.up(Map.of(" ", 1))).hasMessageContaining("a name");
    Map<String, Object> many = new LinkedHashMap<>();
    for (int i = 0; i <= Health.MAX_DETAILS; i++) {
      many.put("k" + i, i);
    }
    assertThatThrownBy(() -> Health.up(many)).hasMessageContaining("at most 32");
  }
}
