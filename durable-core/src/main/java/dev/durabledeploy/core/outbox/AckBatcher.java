package dev.durabledeploy.core.outbox;

import dev.durabledeploy.core.events.Operations;
import dev.durabledeploy.spi.outbox.Outbox;
import dev.durabledeploy.spi.outbox.OutboxEvent;
import dev.durabledeploy.spi.support.Threads;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.Semaphore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Acknowledges finished site chains in batches: one acker thread acknowledges everything queued in
 * a single statement per round, so a batch spanning many sites costs one round trip, not one per
 * site. Hands the chains' in-flight permits back and tells the relay after each round.
 */
final class AckBatcher {

  private static final Logger LOG = LoggerFactory.getLogger(OutboxRelay.class);

  /** A finished site chain waiting for its acknowledgement. */
  private record PendingAck(
      List<OutboxEvent> events, List<Long> accepted, CompletableFuture<Void> done) {}

  private final Outbox outbox;
  private final String owner;
  private final Set<Long> outstanding;
  private final Semaphore inFlight;
  private final Runnable afterRound;
  private final Counter delivered;
  private final ConcurrentLinkedQueue<PendingAck> acks = new ConcurrentLinkedQueue<>();
  private final ExecutorService acker;

  AckBatcher(
      Outbox outbox,
      String owner,
      Set<Long> outstanding,
      Semaphore inFlight,
      Runnable afterRound,
      MeterRegistry meters) {
    this.outbox = outbox;
    this.owner = owner;
    this.outstanding = outstanding;
    this.inFlight = inFlight;
    this.afterRound = afterRound;
    this.delivered =
        Counter.builder("durable.outbox.relay.delivered")
            .description("outbox events acknowledged after their workflows accepted them")
            .register(meters);
    this.acker =
        Executors.newSingleThreadExecutor(Threads.daemonNamed("durable-outbox-ack-" + owner));
  }

  /**
   * Queues the chain's accepted events for acknowledgement; completes when they are acknowledged
   * and the chain's permits are back.
   */
  CompletableFuture<Void> finish(List<OutboxEvent> events, List<Long> accepted, Throwable error) {
    if (error != null) {
      LOG.warn("outbox relay chain failed: {}", Operations.describe(error));
    }
    PendingAck pending = new PendingAck(events, List.copyOf(accepted), new CompletableFuture<>());
    acks.add(pending);
    try {
      acker.execute(this::flush);
    } catch (RejectedExecutionException stopped) {
      flush();
    }
    return pending.done();
  }

  /** Lets a queued round finish; chains that finish later are acknowledged on their own thread. */
  void stop() {
    acker.shutdown();
  }

  private void flush() {
    List<PendingAck> round = new ArrayList<>();
    PendingAck next;
    while ((next = acks.poll()) != null) {
      round.add(next);
    }
    if (round.isEmpty()) {
      return;
    }
    List<Long> ids = new ArrayList<>();
    round.forEach(p -> ids.addAll(p.accepted()));
    try {
      if (!ids.isEmpty()) {
        delivered.increment(outbox.ack(owner, ids));
      }
    } catch (RuntimeException e) {
      // Not acknowledged: the events come back after their lease and run again (idempotently).
      LOG.warn("acknowledging {} outbox events failed: {}", ids.size(), Operations.describe(e));
    } finally {
      for (PendingAck p : round) {
        p.events().forEach(ev -> outstanding.remove(ev.id()));
        inFlight.release(p.events().size());
        p.done().complete(null);
      }
      afterRound.run();
    }
  }
}
