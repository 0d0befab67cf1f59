package dev.durabledeploy.core.hostile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.durabledeploy.core.CoreFixture;
import dev.durabledeploy.core.DeployOptions;
import dev.durabledeploy.core.deploy.Manifest;
import dev.durabledeploy.spi.Actions;
import dev.durabledeploy.spi.Authorizer;
import dev.durabledeploy.spi.UploadPath;
import dev.durabledeploy.spi.exception.AccessDeniedException;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.spi.outbox.OutboxEvent;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** A host whose authorizer refuses GC: no public entry point may run GC for it anyway. */
class GcSweepAuthorizerHostileTest extends CoreFixture {

  @Override
  protected DeployOptions options() {
    return DeployOptions.builder()
        .gcDebounce(Duration.ofMillis(50), Duration.ofMillis(500))
        .importSitesOnStart(false)
        .build();
  }

  @Override
  protected Authorizer authorizer() {
    return (actor, site, action) -> {
      if (action.equals(Actions.GC_RUN)) {
        throw new AccessDeniedException(actor, site, action, "GC is frozen for an audit");
      }
    };
  }

  @Test
  @DisplayName("gcSweep().run() asks the authorizer for gc.run, as gc().run does, before trashing")
  void sweepAsksTheAuthorizer() {
    for (int i = 0; i < 6; i++) {
      Deploy d = deploys.init(SITE, null);
      byte[] bytes = ("v" + i).getBytes(StandardCharsets.UTF_8);
      deploys.upload(
          SITE, d.id(), UploadPath.of("index.html"), new ByteArrayInputStream(bytes), bytes.length);
      deploys.finalizeDeploy(SITE, d.id(), PROD, Manifest.of("index.html"));
      clock.advance(Duration.ofMinutes(1));
    }
    clock.advance(Duration.ofDays(10));
    // The site.changed events' own GC runs are the library's work; drop them to isolate the sweep.
    List<OutboxEvent> batch;
    while (!(batch = store.outbox().claim("gone", 1000, Duration.ofMinutes(1))).isEmpty()) {
      store.outbox().ack("gone", batch.stream().map(OutboxEvent::id).toList());
    }
    plane.start();
    // The direct call is refused...
    assertThatThrownBy(() -> plane.gc().run(SITE, false)).isInstanceOf(AccessDeniedException.class);
    // ...and the sweep, which a host calls the same way, must be too.
    Throwable sweep = null;
    try {
      plane.gcSweep().run();
    } catch (Throwable e) {
      sweep = e;
    }
    if (sweep == null) {
      // Show what the unchecked sweep did.
      await().atMost(Duration.ofSeconds(10)).until(() -> !deploys.trash(SITE).isEmpty());
    }
    assertThat(sweep)
        .as("gcSweep().run() was not refused; tombstones written: %s", deploys.trash(SITE).size())
        .isInstanceOf(AccessDeniedException.class);
  }
}
