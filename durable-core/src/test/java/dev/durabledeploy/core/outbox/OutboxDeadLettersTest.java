package dev.durabledeploy.core.outbox;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.durabledeploy.core.DurableDeploy;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.engine.RunHandle;
import dev.durabledeploy.spi.engine.Submission;
import dev.durabledeploy.spi.engine.WorkflowDefinition;
import dev.durabledeploy.spi.engine.WorkflowEngine;
import dev.durabledeploy.spi.events.OperationEvent;
import dev.durabledeploy.spi.exception.InvalidInputException;
import dev.durabledeploy.spi.exception.TransientStoreException;
import dev.durabledeploy.spi.outbox.NewEvent;
import dev.durabledeploy.spi.outbox.OutboxDeadLetter;
import dev.durabledeploy.spi.outbox.StandardEvents;
import dev.durabledeploy.spi.retry.RetryPolicy;
import dev.durabledeploy.store.memory.InMemoryBlobStore;
import dev.durabledeploy.store.memory.InMemoryStore;
import dev.durabledeploy.store.memory.InMemoryWorkflowEngine;
import dev.durabledeploy.testkit.ForwardingWorkflowEngine;
import dev.durabledeploy.testkit.MutableClock;
import dev.durabledeploy.testkit.RecordingEventBus;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * Issue 20.5 through the facade a host calls: a host event whose workflow cannot be reached is
 * dead-lettered in the outbox after the background workflows' budget, stops holding back its site,
 * and can be listed, retried and discarded through {@link DurableDeploy#outboxDeadLetters()}.
 */
@DisplayName("outbox dead letters through DurableDeploy")
class OutboxDeadLettersTest {

  private static final SiteId SITE = SiteId.of("site-a");

  /** The host's engine, whose submissions of {@code notify} fail while {@link #down} is set. */
  static final class UnreachableNotify extends ForwardingWorkflowEngine {
    volatile boolean down = true;

    UnreachableNotify(WorkflowEngine delegate) {
      super(delegate);
    }

    @Override
    public CompletionStage<RunHandle> submit(Submission submission) {
      if (down && submission.workflow().equals("notify")) {
        return CompletableFuture.failedFuture(
            new TransientStoreException("the notification engine is unreachable"));
      }
      return super.submit(submission);
    }
  }

  private final MutableClock clock = new MutableClock();
  private final InMemoryStore store = new InMemoryStore(clock);
  private final UnreachableNotify engine = new UnreachableNotify(new InMemoryWorkflowEngine());
  private final List<String> notified = new CopyOnWriteArrayList<>();
  private final RecordingEventBus recorded = new RecordingEventBus();
  private final SimpleMeterRegistry meters = new SimpleMeterRegistry();
  private DurableDeploy plane;

  @BeforeEach
  void start() {
    engine.register(
        WorkflowDefinition.named("notify")
            .keyedBy(StandardEvents.KEY_SITE)
            .handler(ctx -> notified.add(ctx.input().get(OutboxRelay.INPUT_EVENT_ID))));
    plane =
        DurableDeploy.builder()
            .store(store)
            .blobStore(new InMemoryBlobStore(clock))
            .engine(engine)
            .clock(clock)
            .meterRegistry(meters)
            .sleeper(d -> {})
            .retryPolicy(
                RetryPolicy.defaults().withBackoff(Duration.ofMillis(1), Duration.ofMillis(5), 2.0))
            .route("build.finished", "notify")
            .build();
    plane.events().subscribe(e -> true, recorded::publish);
    plane.start();
  }

  @AfterEach
  void close() {
    plane.close();
  }

  private long buildFinished() {
    return store
        .outbox()
        .append(
            new NewEvent(SITE, "build.finished", Map.of(StandardEvents.KEY_SITE, SITE.value())));
  }

  /** Moves the clock past each backoff and wakes the relay until the event is a dead letter. */
  private OutboxDeadLetter awaitDeadLetter(long eventId) {
    return await()
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(20))
        .until(
            () -> {
              clock.advance(Duration.ofMinutes(1));
              plane.relay().wake();
              return plane.outboxDeadLetters().list(10).stream()
                  .filter(l -> l.id() == eventId)
                  .findFirst();
            },
            Optional::isPresent)
        .orElseThrow();
  }

  @Test
  @DisplayName(
      "after 12 failed dispatches the event is listed with its error, announced, counted,"
          + " and its site's next event is delivered")
  void deadLetteredAndSiteGoesOn() {
    long id = buildFinished();
    long next = store.outbox().append(StandardEvents.siteChanged(SITE, "test"));
    OutboxDeadLetter letter = awaitDeadLetter(id);
    assertThat(letter.event().type()).isEqualTo("build.finished");
    assertThat(letter.event().failures()).isEqualTo(12);
    assertThat(letter.event().lastError()).contains("the notification engine is unreachable");
    assertThat(recorded.events(OperationEvent.DeadLettered.class))
        .singleElement()
        .satisfies(
            e -> {
              assertThat(e.operation()).isEqualTo(OutboxRelay.OPERATION_DISPATCH);
              assertThat(e.operationId()).isEqualTo("outbox:" + id);
              assertThat(e.site()).isEqualTo(SITE);
              assertThat(e.attempts()).isEqualTo(12);
            });
    assertThat(meters.get("durable.outbox.relay.dead.lettered").counter().count()).isEqualTo(1);
    // The site.changed behind it is no longer held back.
    await().atMost(Duration.ofSeconds(30)).until(() -> store.outbox().stats().undelivered() == 0);
    assertThat(store.allEvents()).extracting(e -> e.id()).contains(next);
    assertThat(store.outbox().stats().deadLettered()).isEqualTo(1);
    assertThat(notified).isEmpty();
  }

  @Test
  @DisplayName(
      "a retried dead letter is delivered once its cause is fixed; retrying twice is false")
  void retry() {
    long id = buildFinished();
    awaitDeadLetter(id);
    engine.down = false;
    assertThat(plane.outboxDeadLetters().retry(id)).isTrue();
    await().atMost(Duration.ofSeconds(30)).until(() -> notified.contains(Long.toString(id)));
    assertThat(plane.outboxDeadLetters().list(10)).isEmpty();
    assertThat(plane.outboxDeadLetters().retry(id)).isFalse();
    await().atMost(Duration.ofSeconds(30)).until(() -> store.outbox().stats().undelivered() == 0);
    assertThat(notified).containsExactly(Long.toString(id));
  }

  @Test
  @DisplayName("a discarded dead letter is never delivered; bad arguments name their field")
  void discard() {
    long id = buildFinished();
    awaitDeadLetter(id);
    engine.down = false;
    assertThat(plane.outboxDeadLetters().discard(id)).isTrue();
    assertThat(plane.outboxDeadLetters().discard(id)).isFalse();
    assertThat(plane.outboxDeadLetters().retry(id)).isFalse();
    assertThat(plane.outboxDeadLetters().list(10)).isEmpty();
    assertThat(store.outbox().stats().deadLettered()).isZero();
    assertThat(notified).isEmpty();
    assertThatThrownBy(() -> plane.outboxDeadLetters().list(0))
        .isInstanceOfSatisfying(
            InvalidInputException.class, e -> assertThat(e.field()).isEqualTo("limit"));
    assertThatThrownBy(() -> plane.outboxDeadLetters().retry(0))
        .isInstanceOfSatisfying(
            InvalidInputException.class, e -> assertThat(e.field()).isEqualTo("eventId"));
  }
}
