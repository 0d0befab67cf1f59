package dev.durabledeploy.store.memory;

import static org.assertj.core.api.Assertions.assertThat;

import dev.durabledeploy.spi.engine.CronSchedule;
import dev.durabledeploy.spi.engine.RunHandle;
import dev.durabledeploy.spi.engine.WorkflowEngine;
import dev.durabledeploy.testkit.tck.WorkflowEngineContract;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

class InMemoryWorkflowEngineTest extends WorkflowEngineContract {
  @Override
  protected WorkflowEngine createEngine() {
    return new InMemoryWorkflowEngine();
  }

  @Test
  @DisplayName("cron schedules are stored and fired on demand")
  void firesSchedules() {
    AtomicInteger calls = new AtomicInteger();
    engine.register(workflow("nightly", ctx -> calls.incrementAndGet()));
    engine.start();
    engine.schedule(CronSchedule.utc("purge", "nightly", "0 3 * * *"));
    RunHandle handle = ((InMemoryWorkflowEngine) engine).fire("purge").toCompletableFuture().join();
    awaitTerminal(handle.id());
    assertThat(calls.get()).isEqualTo(1);
    assertThat(engine.unschedule("purge")).isTrue();
    assertThat(engine.unschedule("purge")).isFalse();
  }
}
