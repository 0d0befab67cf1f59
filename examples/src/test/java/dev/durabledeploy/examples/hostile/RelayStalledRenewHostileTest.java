package dev.durabledeploy.examples.hostile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.durabledeploy.core.outbox.OutboxRelay;
import dev.durabledeploy.engine.executor.ExecutorEngine;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.engine.RunHandle;
import dev.durabledeploy.spi.engine.Submission;
import dev.durabledeploy.spi.engine.WorkflowDefinition;
import dev.durabledeploy.spi.outbox.NewEvent;
import dev.durabledeploy.store.postgres.PostgresStore;
import dev.durabledeploy.testkit.fixtures.PostgresExtension;
import dev.durabledeploy.testkit.fixtures.TcpProxy;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionStage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Two relays on one PostgreSQL outbox; relay A is cut off from the database while a run it
 * submitted is still going (its renewals fail), B takes the site over. When A's submission is
 * accepted at last, A must not dispatch the site's next event: only B goes on, in order.
 */
class RelayStalledRenewHostileTest {

  @RegisterExtension static final PostgresExtension PG = new PostgresExtension();
  static final SiteId SITE = SiteId.of("hostile-relay");

  static PostgresStore store(String jdbcUrl) {
    return PostgresStore.builder()
        .jdbcUrl(jdbcUrl)
        .username(PG.username())
        .password(PG.password())
        .schema("hrelay")
        .connectionTimeout(Duration.ofMillis(500))
        .migrateOnStart(true)
        .build();
  }

  @Test
  void aRelayCutOffMidChainStopsAndTheOtherDeliversInOrder() throws Exception {
    List<String> handled = Collections.synchronizedList(new ArrayList<>());
    List<String> submissions = Collections.synchronizedList(new ArrayList<>());
    Gate firstRun = new Gate(Duration.ofSeconds(60));
    ExecutorEngine engine = ExecutorEngine.builder().build();
    engine.register(
        WorkflowDefinition.named("record")
            .keyedBy("site")
            .handler(
                ctx -> {
                  if (ctx.input().get("seq").equals("0") && !firstRun.arrived()) {
                    firstRun.run();
                  }
                  handled.add(ctx.input().get("seq"));
                }));
    engine.start();
    URI server = URI.create(PG.jdbcUrl().substring("jdbc:".length()));
    try (TcpProxy proxy = TcpProxy.to(server);
        PostgresStore direct = store(PG.jdbcUrl());
        PostgresStore cutOff = store(proxy.jdbcUrl(PG.jdbcUrl()))) {
      for (int seq = 0; seq < 3; seq++) {
        direct
            .outbox()
            .append(
                new NewEvent(
                    SITE,
                    "test.event",
                    Map.of("site", SITE.value(), "seq", Integer.toString(seq))));
      }
      SimpleMeterRegistry metersA = new SimpleMeterRegistry();
      OutboxRelay a =
          OutboxRelay.builder(cutOff.outbox(), recording("A", engine, submissions))
              .owner("relay-a")
              .leaseTtl(Duration.ofSeconds(2))
              .pollInterval(Duration.ofMillis(50))
              .meterRegistry(metersA)
              .route("test.event", "record")
              .build();
      OutboxRelay b =
          OutboxRelay.builder(direct.outbox(), recording("B", engine, submissions))
              .owner("relay-b")
              .leaseTtl(Duration.ofSeconds(2))
              .pollInterval(Duration.ofMillis(50))
              .route("test.event", "record")
              .build();
      try {
        a.start();
        firstRun.awaitArrival(Duration.ofSeconds(30));
        proxy.cut(); // A's renewals fail from now on
        b.start();
        // A's claim expires in the database; B claims the site and resubmits event 0 (the engine
        // deduplicates it by its idempotency key, so B waits on the same run).
        await().atMost(Duration.ofSeconds(30)).until(() -> submissions.contains("B:0"));
        firstRun.open();
        await()
            .atMost(Duration.ofSeconds(30))
            .until(() -> direct.outbox().stats().undelivered() == 0);
        proxy.restore();
        assertThat(submissions).filteredOn(s -> s.startsWith("A:")).containsExactly("A:0");
        assertThat(submissions)
            .filteredOn(s -> s.startsWith("B:"))
            .containsExactly("B:0", "B:1", "B:2");
        assertThat(handled).containsExactly("0", "1", "2");
      } finally {
        proxy.restore();
        a.stop(Duration.ofSeconds(5));
        b.stop(Duration.ofSeconds(5));
      }
    } finally {
      engine.close();
    }
  }

  static FlakyEngine recording(String name, ExecutorEngine engine, List<String> submissions) {
    return new FlakyEngine(engine) {
      @Override
      public CompletionStage<RunHandle> submit(Submission submission) {
        submissions.add(name + ":" + submission.input().get("seq"));
        return super.submit(submission);
      }

      @Override
      public void start() {}

      @Override
      public void close() {}
    };
  }
}
