package dev.durabledeploy.core.outbox;

import dev.durabledeploy.core.events.Operations;
import dev.durabledeploy.spi.events.EventBus;
import dev.durabledeploy.spi.events.OperationEvent;
import dev.durabledeploy.spi.outbox.Outbox;
import dev.durabledeploy.spi.outbox.OutboxEvent;
import dev.durabledeploy.spi.retry.RetryPolicy;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.random.RandomGenerator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the relay does with an event whose dispatch failed: fail it with a backoff, or dead-letter
 * it once it used its budget of {@code maxFailures} dispatches, and say so in the log, the meters
 * and the event bus.
 */
final class FailedDispatches {

  private static final Logger LOG = LoggerFactory.getLogger(OutboxRelay.class);

  private final Outbox outbox;
  private final String owner;
  private final Clock clock;
  private final RetryPolicy retryPolicy;
  private final RandomGenerator random;
  private final int maxFailures;
  private final EventBus events;
  private final Set<Long> outstanding;
  private final AtomicBoolean warnedNoDeadLetters = new AtomicBoolean();
  private final Counter failed;
  private final Counter deadLettered;

  FailedDispatches(
      Outbox outbox,
      String owner,
      Clock clock,
      RetryPolicy retryPolicy,
      RandomGenerator random,
      int maxFailures,
      EventBus events,
      Set<Long> outstanding,
      MeterRegistry meters) {
    this.outbox = outbox;
    this.owner = owner;
    this.clock = clock;
    this.retryPolicy = retryPolicy;
    this.random = random;
    this.maxFailures = maxFailures;
    this.events = events;
    this.outstanding = outstanding;
    this.failed =
        Counter.builder("durable.outbox.relay.failed")
            .description("outbox events whose dispatch failed and will be retried")
            .register(meters);
    this.deadLettered =
        Counter.builder("durable.outbox.relay.dead.lettered")
            .description("outbox events dead-lettered after their budget of failed dispatches")
            .register(meters);
  }

  /**
   * Records a failed dispatch: the event's {@code maxFailures}-th failure dead-letters it, any
   * earlier one fails it with a backoff. Returns true when the chain may go on with the site's next
   * event (the event was dead-lettered), false when the site must wait (failed, or the claim is
   * gone).
   */
  boolean fail(SiteChain chain, OutboxEvent event, Throwable error) {
    Throwable cause =
        error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
    String text = Operations.describe(cause);
    int failures = event.failures() + 1;
    if (failures >= maxFailures) {
      Optional<Boolean> dead = deadLetter(event, text);
      if (dead.isPresent()) {
        if (!dead.get()) {
          chain.lose("the outbox refused to dead-letter event " + event.id() + " for this relay");
          return false;
        }
        chain.held.remove(event.id());
        outstanding.remove(event.id());
        deadLettered.increment();
        LOG.error(
            "outbox event {} ({}) of site {} dead-lettered after {} failed dispatches; its site goes"
                + " on without it. Retry or discard it with DurableDeploy.outboxDeadLetters(): {}",
            event.id(),
            event.type(),
            event.site(),
            failures,
            text);
        if (events != null) {
          events.publish(
              new OperationEvent.DeadLettered(
                  "outbox:" + event.id(),
                  OutboxRelay.OPERATION_DISPATCH,
                  event.site(),
                  failures,
                  text,
                  clock.instant()));
        }
        return true;
      }
    }
    Duration delay = retryPolicy.delayBefore(Math.max(1, failures), random);
    failed.increment();
    LOG.warn(
        "dispatching outbox event {} ({}) of site {} failed ({} of {}), next attempt in {}: {}",
        event.id(),
        event.type(),
        event.site(),
        failures,
        maxFailures,
        delay,
        text);
    if (!outbox.fail(owner, event.id(), text, clock.instant().plus(delay))) {
      chain.lose("the outbox refused to record a failure of event " + event.id() + " for us");
    }
    return false;
  }

  /** Whether the outbox dead-lettered the event; empty when it keeps no dead letters. */
  private Optional<Boolean> deadLetter(OutboxEvent event, String error) {
    try {
      return Optional.of(outbox.deadLetter(owner, event.id(), error));
    } catch (UnsupportedOperationException unsupported) {
      if (warnedNoDeadLetters.compareAndSet(false, true)) {
        LOG.warn(
            "the outbox keeps no dead letters ({}); events that keep failing are retried for ever",
            unsupported.getMessage());
      }
      return Optional.empty();
    }
  }
}
