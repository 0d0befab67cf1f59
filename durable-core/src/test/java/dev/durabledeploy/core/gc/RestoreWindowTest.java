package dev.durabledeploy.core.gc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.durabledeploy.core.CoreFixture;
import dev.durabledeploy.core.DeployOptions;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.events.OperationEvent;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.spi.metadata.Tombstone;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * Issue 20.2: a deploy the user restores stays restorable-and-restored; GC keeps it for {@code
 * grace} after the restore, also when GC runs in the background on the restore's own {@code
 * site.changed} (relay + engine, as in production).
 */
@DisplayName("a restored deploy is kept for grace after its restore")
class RestoreWindowTest extends CoreFixture {

  @Override
  protected DeployOptions options() {
    // Default retention rules (keepLatest 3, grace 72 h); a short debounce so the test is quick.
    return DeployOptions.builder()
        .gcDebounce(Duration.ofMillis(100), Duration.ofSeconds(1))
        .build();
  }

  /** Six deploys an hour apart, each finalized to production; then ten days pass. */
  private List<Deploy> sixOldDeploys() {
    List<Deploy> six = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      six.add(finalizedDeploy(PROD, "v" + i));
      clock.advance(Duration.ofHours(1));
    }
    clock.advance(Duration.ofDays(10));
    return six;
  }

  private long gcRunsDone() {
    return recorded.events(OperationEvent.Succeeded.class).stream()
        .filter(e -> e.operation().equals("gc") && SITE.equals(e.site()))
        .count();
  }

  private List<DeployId> trash(SiteId site) {
    return deploys.trash(site).stream().map(Tombstone::deployId).toList();
  }

  @Test
  @DisplayName(
      "restore, 30 s, then the background gc-site fired by the restore's site.changed: still live")
  void backgroundGcAfterRestore() {
    List<Deploy> six = sixOldDeploys();
    plane.start();
    // The finalizes' site.changed events reach gc-site through the relay: the three oldest go.
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> trash(SITE).size() == 3 && store.outbox().stats().undelivered() == 0);
    assertThat(trash(SITE)).containsExactly(six.get(0).id(), six.get(1).id(), six.get(2).id());
    long runsBefore = gcRunsDone();

    Deploy restored = deploys.restore(SITE, six.get(0).id());
    clock.advance(Duration.ofSeconds(30));

    // The restore's site.changed is delivered and its (debounced) gc-site run completes.
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> gcRunsDone() > runsBefore && store.outbox().stats().undelivered() == 0);
    assertThat(deploys.deploy(SITE, restored.id())).isPresent();
    assertThat(trash(SITE)).containsExactly(six.get(1).id(), six.get(2).id());
  }

  @Test
  @DisplayName(
      "the plan and the dry-run report keep it with reason RESTORED until grace has passed")
  void keepReasonUntilGraceEnds() {
    List<Deploy> six = sixOldDeploys();
    plane.gc().run(SITE, false);
    DeployId oldest = six.get(0).id();
    deploys.restore(SITE, oldest);
    clock.advance(Duration.ofSeconds(30));

    GcReport dryRun = plane.gc().run(SITE, true);
    assertThat(dryRun.plan().keeps())
        .contains(new GcPlan.Keep(oldest, java.util.Set.of(KeepReason.RESTORED)));
    assertThat(dryRun.plan().trash()).doesNotContain(oldest);
    assertThat(plane.gc().run(SITE, false).trashed()).isEmpty();

    // Grace counts from the restore: one second before it ends the deploy stays, at its end it
    // goes.
    clock.advance(DeployOptions.DEFAULT_GRACE.minusSeconds(31));
    assertThat(plane.gc().run(SITE, false).trashed()).isEmpty();
    clock.advance(Duration.ofSeconds(1));
    assertThat(plane.gc().run(SITE, false).trashed()).containsExactly(oldest);
  }
}
