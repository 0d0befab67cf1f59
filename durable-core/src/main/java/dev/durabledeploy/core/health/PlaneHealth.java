package dev.durabledeploy.core.health;

import dev.durabledeploy.core.events.Operations;
import dev.durabledeploy.spi.Store;
import dev.durabledeploy.spi.blob.BlobStore;
import dev.durabledeploy.spi.engine.WorkflowEngine;
import dev.durabledeploy.spi.health.Health;
import dev.durabledeploy.spi.health.HealthReport;
import dev.durabledeploy.spi.outbox.OutboxStats;
import dev.durabledeploy.spi.support.Threads;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * {@code DurableDeploy.health()}: each component's probe on a small executor of its own, all at
 * once, each awaited until one shared deadline ({@link HealthOptions#probeTimeout()}), so a hung
 * backend never holds the caller longer than that. A probe still running from an earlier call is
 * not started again: the call waits for that one (until its own deadline), so a backend that hangs
 * costs one thread per component, however often health is asked. The relay's health is derived from
 * the outbox probe's stats and the relay's state, without a call of its own.
 *
 * <p>Every component's details start with {@code latencyMs}, the probe's duration (for one that did
 * not answer, how long this call waited). A probe that throws reports DOWN with {@code error}, the
 * exception redacted; one that did not answer reports DOWN with {@code reason} and {@code
 * probeRunningMs}, how long it has been running.
 */
public final class PlaneHealth implements AutoCloseable {

  /** One per component that has a probe: the most threads the executor ever runs. */
  private static final int PROBES = 6;

  private final Clock clock;
  private final HealthOptions options;
  private final BooleanSupplier relayRunning;
  private final ThreadPoolExecutor executor;
  private final Probe<Health> metadata;
  private final Probe<OutboxStats> outbox;
  private final Probe<Health> siteLocks;
  private final Probe<Health> leases;
  private final Probe<Health> blobs;
  private final Probe<Health> engine;

  /**
   * @param relayRunning whether the outbox relay runs
   */
  public PlaneHealth(
      Store store,
      BlobStore blobs,
      WorkflowEngine engine,
      BooleanSupplier relayRunning,
      Clock clock,
      HealthOptions options) {
    Objects.requireNonNull(store, "store");
    Objects.requireNonNull(blobs, "blobs");
    Objects.requireNonNull(engine, "engine");
    this.relayRunning = Objects.requireNonNull(relayRunning, "relayRunning");
    this.clock = Objects.requireNonNull(clock, "clock");
    this.options = Objects.requireNonNull(options, "options");
    // At most one task per probe runs (see Probe.start), so PROBES threads always suffice: a task
    // queues only behind a thread that is just finishing another probe's run. Idle threads end
    // after a minute, so a plane nobody asks costs no thread.
    this.executor =
        new ThreadPoolExecutor(
            PROBES,
            PROBES,
            1,
            TimeUnit.MINUTES,
            new LinkedBlockingQueue<>(),
            Threads.daemon("durable-health"));
    executor.allowCoreThreadTimeOut(true);
    this.metadata = new Probe<>(() -> store.metadata().health());
    this.outbox = new Probe<>(() -> store.outbox().stats());
    this.siteLocks = new Probe<>(() -> store.siteLocks().health());
    this.leases = new Probe<>(() -> store.jobLeases().health());
    this.blobs = new Probe<>(blobs::health);
    this.engine = new Probe<>(engine::health);
  }

  /** Probes every component, within about {@link HealthOptions#probeTimeout()}. */
  public HealthReport check() {
    Instant at = clock.instant();
    long deadline = System.nanoTime() + options.probeTimeout().toNanos();
    CompletableFuture<Timed<Health>> m = metadata.start();
    CompletableFuture<Timed<OutboxStats>> o = outbox.start();
    CompletableFuture<Timed<Health>> l = siteLocks.start();
    CompletableFuture<Timed<Health>> j = leases.start();
    CompletableFuture<Timed<Health>> b = blobs.start();
    CompletableFuture<Timed<Health>> e = engine.start();
    Map<String, Health> components = new LinkedHashMap<>();
    components.put(HealthReport.METADATA, health(metadata, m, deadline));
    Outcome<OutboxStats> stats = await(outbox, o, deadline);
    components.put(HealthReport.OUTBOX, outboxHealth(stats));
    components.put(HealthReport.SITE_LOCKS, health(siteLocks, l, deadline));
    components.put(HealthReport.LEASES, health(leases, j, deadline));
    components.put(HealthReport.BLOB_STORE, health(blobs, b, deadline));
    components.put(HealthReport.ENGINE, health(engine, e, deadline));
    components.put(HealthReport.RELAY, relayHealth(stats));
    return HealthReport.of(at, components);
  }

  @Override
  public void close() {
    // Probes hold no state worth waiting for; a hung one is interrupted.
    executor.shutdownNow();
  }

  private Health health(Probe<Health> probe, CompletableFuture<Timed<Health>> f, long deadline) {
    Outcome<Health> outcome = await(probe, f, deadline);
    if (outcome.failure() != null) {
      return outcome.failure();
    }
    return withLatency(outcome.value().value(), outcome.value().nanos());
  }

  private Health outboxHealth(Outcome<OutboxStats> outcome) {
    if (outcome.failure() != null) {
      return outcome.failure();
    }
    OutboxStats stats = outcome.value().value();
    Map<String, Object> details = new LinkedHashMap<>();
    details.put("latencyMs", millis(outcome.value().nanos()));
    details.put("undelivered", stats.undelivered());
    details.put("claimed", stats.claimed());
    details.put("oldestUndeliveredAgeMs", stats.lag(clock.instant()).toMillis());
    details.put("deadLettered", stats.deadLettered());
    if (stats.deadLettered() > 0) {
      details.put(
          "reason",
          stats.deadLettered()
              + " dead-lettered events wait for a person: list them with"
              + " outboxDeadLetters().list, fix the cause, then retry or discard each");
      return Health.degraded(details);
    }
    return Health.up(details);
  }

  private Health relayHealth(Outcome<OutboxStats> stats) {
    Map<String, Object> details = new LinkedHashMap<>();
    boolean running = relayRunning.getAsBoolean();
    details.put("running", running);
    details.put("lagThresholdMs", options.relayLagThreshold().toMillis());
    if (!running) {
      details.put(
          "reason", "the relay is not running: start() was not called, or the plane closed");
      return Health.down(details);
    }
    if (stats.failure() != null) {
      details.put("reason", "the outbox did not answer: the relay cannot deliver");
      return Health.down(details);
    }
    Duration lag = stats.value().value().lag(clock.instant());
    details.put("oldestUndeliveredAgeMs", lag.toMillis());
    if (lag.compareTo(options.relayLagThreshold()) > 0) {
      details.put(
          "reason",
          "the oldest undelivered event has waited "
              + lag.toMillis()
              + " ms, longer than relayLagThreshold ("
              + options.relayLagThreshold().toMillis()
              + " ms)");
      return Health.degraded(details);
    }
    return Health.up(details);
  }

  /** The probe's value, or the DOWN health it failed with. */
  private <T> Outcome<T> await(Probe<T> probe, CompletableFuture<Timed<T>> f, long deadline) {
    long waitStart = System.nanoTime();
    try {
      return new Outcome<>(
          f.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS), null);
    } catch (TimeoutException e) {
      Map<String, Object> details = new LinkedHashMap<>();
      details.put("latencyMs", millis(System.nanoTime() - waitStart));
      details.put("probeRunningMs", millis(System.nanoTime() - probe.startedNanos()));
      details.put(
          "reason", "no answer within probeTimeout (" + options.probeTimeout().toMillis() + " ms)");
      return new Outcome<>(null, Health.down(details));
    } catch (ExecutionException e) {
      Throwable cause = e.getCause() instanceof ProbeFailure p ? p.getCause() : e.getCause();
      long nanos = e.getCause() instanceof ProbeFailure p ? p.nanos : 0;
      Map<String, Object> details = new LinkedHashMap<>();
      details.put("latencyMs", millis(nanos));
      details.put("error", Operations.describe(cause));
      return new Outcome<>(null, Health.down(details));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new Outcome<>(null, Health.down(Map.of("reason", "the health call was interrupted")));
    }
  }

  private static Health withLatency(Health health, long nanos) {
    Map<String, Object> details = new LinkedHashMap<>();
    details.put("latencyMs", millis(nanos));
    health.details().forEach(details::putIfAbsent);
    return new Health(health.status(), details);
  }

  private static long millis(long nanos) {
    return TimeUnit.NANOSECONDS.toMillis(nanos);
  }

  private record Timed<T>(T value, long nanos) {}

  private record Outcome<T>(Timed<T> value, Health failure) {}

  /** A probe's exception, with how long it took to fail. */
  private static final class ProbeFailure extends RuntimeException {
    final long nanos;

    ProbeFailure(Throwable cause, long nanos) {
      super(cause);
      this.nanos = nanos;
    }
  }

  /** One component's probe: never more than one run of it at a time. */
  private final class Probe<T> {
    private final Supplier<T> body;
    private CompletableFuture<Timed<T>> running; // guarded by this
    private long startedNanos; // guarded by this

    Probe(Supplier<T> body) {
      this.body = body;
    }

    /** The run in flight if one is (a hung backend then still costs one thread), else a new one. */
    synchronized CompletableFuture<Timed<T>> start() {
      if (running != null && !running.isDone()) {
        return running;
      }
      CompletableFuture<Timed<T>> f = new CompletableFuture<>();
      long start = System.nanoTime();
      try {
        executor.execute(
            () -> {
              try {
                T value = body.get();
                f.complete(new Timed<>(value, System.nanoTime() - start));
              } catch (Throwable e) {
                f.completeExceptionally(new ProbeFailure(e, System.nanoTime() - start));
              }
            });
      } catch (RejectedExecutionException e) {
        f.completeExceptionally(
            new ProbeFailure(new IllegalStateException("the plane is closed"), 0));
      }
      running = f;
      startedNanos = start;
      return f;
    }

    synchronized long startedNanos() {
      return startedNanos;
    }
  }
}
