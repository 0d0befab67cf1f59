package dev.durabledeploy.core.outbox;

import dev.durabledeploy.spi.engine.Submission;
import dev.durabledeploy.spi.engine.WorkflowEngine;
import dev.durabledeploy.spi.outbox.Outbox;
import dev.durabledeploy.spi.outbox.OutboxEvent;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Walks one site's chain of claimed events to the engine: each event to every workflow routed to
 * its type (the event id as idempotency key), the next one only after the previous one was accepted
 * and only while the chain can still show its claim; a failed event stops the chain and hands the
 * rest of the site's batch back, so nothing of the site overtakes it.
 */
final class ChainDispatch {

  private static final Logger LOG = LoggerFactory.getLogger(OutboxRelay.class);

  private final Outbox outbox;
  private final WorkflowEngine engine;
  private final Map<String, List<String>> routes;
  private final String owner;
  private final Clock clock;
  private final Duration submitTimeout;
  private final FailedDispatches failures;
  private final BooleanSupplier stopping;
  private final Counter claimsLost;
  private final Timer lag;

  ChainDispatch(
      Outbox outbox,
      WorkflowEngine engine,
      Map<String, List<String>> routes,
      String owner,
      Clock clock,
      Duration submitTimeout,
      FailedDispatches failures,
      BooleanSupplier stopping,
      MeterRegistry meters) {
    this.outbox = outbox;
    this.engine = engine;
    this.routes = routes;
    this.owner = owner;
    this.clock = clock;
    this.submitTimeout = submitTimeout;
    this.failures = failures;
    this.stopping = stopping;
    this.claimsLost =
        Counter.builder("durable.outbox.relay.claims.lost")
            .description("site chains stopped because the relay could no longer show its claim")
            .register(meters);
    this.lag =
        Timer.builder("durable.outbox.relay.lag")
            .description("time from an event's commit to its acceptance by the engine")
            .publishPercentiles(0.5, 0.99)
            .register(meters);
  }

  /** Dispatches the chain from its first event; completes when the chain stopped or finished. */
  CompletableFuture<Void> start(SiteChain chain) {
    return dispatch(chain, 0);
  }

  /** Submits the chain's event {@code index} once the previous one of the site was accepted. */
  CompletableFuture<Void> dispatch(SiteChain chain, int index) {
    List<OutboxEvent> events = chain.events;
    if (index == events.size() || stopping.getAsBoolean()) {
      releaseRest(events, index);
      return CompletableFuture.completedFuture(null);
    }
    String notHeld = chain.notHeld(clock.instant());
    if (notHeld != null) {
      claimLost(chain, index, notHeld);
      return CompletableFuture.completedFuture(null);
    }
    OutboxEvent event = events.get(index);
    return submitAll(event)
        .handle(
            (ok, error) -> {
              if (error == null) {
                chain.accepted.add(event.id());
                lag.record(Duration.between(event.createdAt(), clock.instant()));
                return true;
              }
              if (failures.fail(chain, event, error)) {
                return true;
              }
              releaseRest(events, index + 1);
              return false;
            })
        .thenCompose(
            next -> next ? dispatch(chain, index + 1) : CompletableFuture.completedFuture(null));
  }

  /**
   * Stops a chain that can no longer show its claim: it submits nothing more, hands back what it
   * may still hold (a no-op for events another relay claimed meanwhile), and the relay that claims
   * the site next delivers the rest in order.
   */
  private void claimLost(SiteChain chain, int index, String why) {
    claimsLost.increment();
    LOG.warn(
        "outbox relay {} stopped dispatching site {} before event {} ({} left): {}; another relay"
            + " may hold the site now, and its events go on from there in order",
        owner,
        chain.site,
        chain.events.get(index).id(),
        chain.events.size() - index,
        why);
    releaseRest(chain.events, index);
  }

  private CompletableFuture<Void> submitAll(OutboxEvent event) {
    List<String> workflows = routes.getOrDefault(event.type(), List.of());
    List<CompletableFuture<?>> submissions = new ArrayList<>();
    Map<String, String> input = new HashMap<>(event.payload());
    input.put(OutboxRelay.INPUT_EVENT_ID, Long.toString(event.id()));
    input.put(OutboxRelay.INPUT_EVENT_TYPE, event.type());
    input.put(OutboxRelay.INPUT_DELIVERY_ATTEMPT, Integer.toString(event.deliveryAttempt()));
    for (String workflow : workflows) {
      CompletableFuture<?> submitted;
      try {
        submitted =
            engine
                .submit(new Submission(workflow, input, "outbox:" + event.id()))
                .toCompletableFuture()
                .orTimeout(submitTimeout.toMillis(), TimeUnit.MILLISECONDS);
      } catch (RuntimeException e) {
        submitted = CompletableFuture.failedFuture(e);
      }
      submissions.add(submitted);
    }
    return CompletableFuture.allOf(submissions.toArray(CompletableFuture[]::new));
  }

  private void releaseRest(List<OutboxEvent> events, int from) {
    if (from >= events.size()) {
      return;
    }
    List<Long> rest = events.subList(from, events.size()).stream().map(OutboxEvent::id).toList();
    outbox.release(owner, rest);
  }
}
