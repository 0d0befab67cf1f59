package dev.durabledeploy.core.outbox;

import dev.durabledeploy.core.events.Operations;
import dev.durabledeploy.core.retry.Retrier;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.engine.WorkflowEngine;
import dev.durabledeploy.spi.events.EventBus;
import dev.durabledeploy.spi.events.OperationEvent;
import dev.durabledeploy.spi.events.Subscription;
import dev.durabledeploy.spi.exception.ConfigurationException;
import dev.durabledeploy.spi.outbox.AppendClaimer;
import dev.durabledeploy.spi.outbox.Outbox;
import dev.durabledeploy.spi.outbox.OutboxEvent;
import dev.durabledeploy.spi.retry.RetryPolicy;
import dev.durabledeploy.spi.support.Config;
import dev.durabledeploy.spi.support.Threads;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.random.RandomGenerator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Moves outbox events to the workflows subscribed to their type, at least once and in id order per
 * site (docs/invariants.md E3).
 *
 * <p>Each round claims a batch under a lease, submits every event to each of its workflows (with
 * the event id as idempotency key) and acknowledges an event only after the engine accepted all of
 * its runs durably. A site's events are submitted one after another, each after the previous one
 * was accepted; different sites proceed side by side, and the background loop keeps claiming new
 * batches (up to {@link #DEFAULT_MAX_IN_FLIGHT} events in flight) while slow sites finish, each
 * site's events acknowledged as soon as its chain completes. When a submission fails, that event is
 * failed with a backoff from the {@link RetryPolicy} and the rest of its site's batch is released,
 * so nothing of that site overtakes it. Any number of relays, in threads or processes, may share
 * one outbox: claims keep them apart.
 *
 * <p><b>Wake-ups.</b> When the store claims on append ({@link Outbox#claimOnAppend}), an event
 * committed by this process whose site had nothing undelivered is claimed for this relay by the
 * appending transaction and handed to it right after the commit, as a claimed batch of its own: no
 * notification, no claim round trip. Everything else the loop claims, woken by the store's append
 * notification when it offers one (this process's own commits wake it in-process, other processes
 * by the store's notification), and by polling every {@code pollInterval} in any case.
 *
 * <p><b>Claims.</b> The lease is renewed every third of its TTL while a batch is in flight. A
 * site's chain submits its next event only while this relay can show it still holds the site's
 * claim: the claim, or the last renewal that extended every event of the chain, was made less than
 * {@code leaseTtl - leaseTtl/4} ago (the quarter absorbs call latency and clock skew between
 * hosts). A renewal that extends fewer events than the chain holds, or renewals that fail or hang
 * for that long, stop the chain: another relay may have taken the site over, and two relays
 * dispatching one site would break its order. A submission already handed to the engine cannot be
 * called back; the relay that took over submits the same event again under the same idempotency
 * key, which the engine deduplicates.
 *
 * <p><b>Dead letters.</b> An event whose dispatch failed {@code maxFailures} times (default {@value
 * #DEFAULT_MAX_FAILURES}, the background workflows' budget) is dead-lettered in the outbox with its
 * last error ({@link Outbox#deadLetter}), counted in {@code durable.outbox.relay.dead.lettered} and
 * announced as {@link OperationEvent.DeadLettered} (operation {@value #OPERATION_DISPATCH}); the
 * chain then goes on with the site's next event. See {@link Outbox} for what that means for the
 * site's order.
 *
 * <p><b>Parts.</b> This class claims batches and runs the loop; each role is a package-private
 * collaborator: {@code ChainDispatch} walks a site's chain to the engine, {@code FailedDispatches}
 * fails or dead-letters an event, {@code AckBatcher} acknowledges finished chains in batches, and
 * {@code ClaimRenewal} extends the claims in flight and tells each {@code SiteChain} what its claim
 * is worth.
 */
public final class OutboxRelay implements AutoCloseable {

  /**
   * Events one claim hands out. A claim's cost on PostgreSQL is mostly per claim (its scan and its
   * durable commit), about the same for 100 events as for 500, so a backlog drains in a fifth of
   * the claims; at low load a claim takes what is there whatever the size.
   */
  public static final int DEFAULT_BATCH_SIZE = 500;

  public static final Duration DEFAULT_LEASE_TTL = Duration.ofSeconds(30);
  public static final Duration DEFAULT_POLL_INTERVAL = Duration.ofSeconds(1);

  /**
   * How long one submission may take to be accepted. An in-process engine accepts when the run has
   * finished, so this bounds a run's duration as seen by the relay.
   */
  public static final Duration DEFAULT_SUBMIT_TIMEOUT = Duration.ofMinutes(5);

  /**
   * After a claim that did not fill a batch, how long the relay lets events gather before claiming
   * again. Without it a steady trickle, each event waking the relay, is claimed one event at a time
   * and the per-claim cost builds a queue.
   */
  public static final Duration DEFAULT_COALESCE = Duration.ofMillis(5);

  /** Claimed events being dispatched at once by the background loop. */
  public static final int DEFAULT_MAX_IN_FLIGHT = 1_000;

  /**
   * Failed dispatches of one event before it is dead-lettered: the engine attempts every background
   * workflow gets ({@link Retrier#MIN_WORKFLOW_ATTEMPTS}), so with the default backoff an event
   * outlasts an engine outage of about a minute, as the workflows themselves do.
   */
  public static final int DEFAULT_MAX_FAILURES = Retrier.MIN_WORKFLOW_ATTEMPTS;

  /** The {@code operation} of the lifecycle events of a dead-lettered outbox event. */
  public static final String OPERATION_DISPATCH = "outbox-dispatch";

  /** Input attributes the relay adds to every run, beside the event's payload. */
  public static final String INPUT_EVENT_ID = "outbox.id";

  public static final String INPUT_EVENT_TYPE = "outbox.type";
  public static final String INPUT_DELIVERY_ATTEMPT = "outbox.attempt";

  private static final Logger LOG = LoggerFactory.getLogger(OutboxRelay.class);

  private final Outbox outbox;
  private final WorkflowEngine engine;
  private final Map<String, List<String>> routes;
  private final String owner;
  private final Clock clock;
  private final int batchSize;
  private final Duration leaseTtl;
  private final Duration pollInterval;
  private final Duration claimMargin;
  private final Semaphore wakeUp = new Semaphore(0);
  // Append notifications received, and how many of them a claim has covered since (afterAcks).
  private final java.util.concurrent.atomic.AtomicLong appendsNotified =
      new java.util.concurrent.atomic.AtomicLong();
  private volatile long appendsCovered;
  private volatile boolean starved;
  private final Semaphore inFlight;
  // Claimed and not yet settled: what ClaimRenewal extends and AckBatcher settles.
  private final Set<Long> outstanding = ConcurrentHashMap.newKeySet();
  private final Set<CompletableFuture<Void>> chains = ConcurrentHashMap.newKeySet();
  private final Set<SiteChain> dispatching = ConcurrentHashMap.newKeySet();
  private final AckBatcher acks;
  private final ClaimRenewal renewal;
  private final FailedDispatches failures;
  private final ChainDispatch dispatch;
  private volatile boolean running;
  private volatile boolean stopping;
  private Thread loop;
  private volatile Subscription notifications;
  private Subscription appendClaims;
  // Starts the dispatch of events handed over on append: AppendClaimer#claimed must not block the
  // committing thread, and an engine's submit may.
  private final ExecutorService handoff;

  private OutboxRelay(Builder b) {
    this.outbox = b.outbox;
    this.engine = b.engine;
    Map<String, List<String>> copy = new HashMap<>();
    b.routes.forEach((type, workflows) -> copy.put(type, List.copyOf(workflows)));
    this.routes = Map.copyOf(copy);
    this.owner = b.owner;
    this.clock = b.clock;
    this.batchSize = b.batchSize;
    this.leaseTtl = b.leaseTtl;
    this.pollInterval = b.pollInterval;
    this.claimMargin = b.leaseTtl.dividedBy(4);
    this.inFlight = new Semaphore(b.maxInFlight);
    this.handoff =
        Executors.newSingleThreadExecutor(Threads.daemonNamed("durable-outbox-handoff-" + owner));
    this.acks = new AckBatcher(outbox, owner, outstanding, inFlight, this::afterAcks, b.meters);
    this.renewal = new ClaimRenewal(outbox, owner, leaseTtl, clock, dispatching, outstanding);
    this.failures =
        new FailedDispatches(
            outbox,
            owner,
            clock,
            b.retryPolicy,
            b.random,
            b.maxFailures,
            b.events,
            outstanding,
            b.meters);
    this.dispatch =
        new ChainDispatch(
            outbox,
            engine,
            routes,
            owner,
            clock,
            b.submitTimeout,
            failures,
            () -> stopping,
            b.meters);
  }

  public static Builder builder(Outbox outbox, WorkflowEngine engine) {
    return new Builder(outbox, engine);
  }

  /**
   * Refuses a route to a workflow the engine has not registered, naming it and the registered ones
   * ({@link ConfigurationException}, property {@code route}): its events could only fail and be
   * dead-lettered. Does nothing when the engine cannot list its workflows. {@link #start()} calls
   * it; a host that assembles the engine itself may call it earlier.
   */
  public void checkRoutes() {
    checkRoutes(Set.of());
  }

  /**
   * {@link #checkRoutes()}, counting {@code toBeRegistered} as registered: workflows about to be
   * registered, so that routes are checked before anything is registered and a refused start can be
   * fixed and retried.
   */
  public void checkRoutes(Set<String> toBeRegistered) {
    Optional<Set<String>> known = engine.registeredWorkflows();
    if (known.isEmpty()) {
      return;
    }
    Set<String> all = new java.util.HashSet<>(known.get());
    all.addAll(toBeRegistered);
    Optional<Set<String>> registered = Optional.of(all);
    new java.util.TreeMap<>(routes)
        .forEach(
            (type, workflows) -> {
              for (String workflow : workflows) {
                if (!registered.get().contains(workflow)) {
                  throw new ConfigurationException(
                      "route",
                      "event type '"
                          + type
                          + "' is routed to workflow '"
                          + workflow
                          + "', which the engine has not registered; registered: "
                          + new java.util.TreeSet<>(registered.get())
                          + ". Register the workflow on the engine before start(), or fix the route");
                }
              }
            });
  }

  /** Checks the routes ({@link #checkRoutes()}), then starts the relay's thread. */
  public synchronized void start() {
    if (running) {
      return;
    }
    checkRoutes();
    running = true;
    notifications = outbox.onAppend(this::appended).orElse(null);
    appendClaims = outbox.claimOnAppend(new LocalClaims()).orElse(null);
    renewal.start();
    loop = Threads.startDaemon("durable-outbox-relay-" + owner, this::runLoop);
  }

  /** Wakes the relay now (e.g. after a host appended events through another path). */
  public void wake() {
    wakeUp.release();
  }

  /** An append notification: an event may be waiting for a claim. */
  private void appended() {
    appendsNotified.incrementAndGet();
    wakeUp.release();
  }

  /**
   * After acknowledgements freed permits and sites: the loop claims again when that may find
   * something: when it waited for room, when the store does not notify appends (anything may be
   * waiting), or when an append was notified since its last claim that found nothing with no chain
   * of this relay in flight (a notified event may be waiting behind one of this relay's sites).
   * Events handed over on append need no claim, so at low load the loop stays asleep.
   */
  private void afterAcks() {
    if (starved || notifications == null || appendsNotified.get() > appendsCovered) {
      wakeUp.release();
    }
  }

  private void runLoop() {
    while (running) {
      try {
        int room = Math.min(batchSize, inFlight.availablePermits());
        starved = room == 0;
        long notified = appendsNotified.get();
        boolean idle = outstanding.isEmpty();
        int claimed = room == 0 ? 0 : claimAndDispatch(room).claimed();
        if (claimed == 0 && room > 0 && idle) {
          // Nothing held here could have blocked what was notified before this claim.
          appendsCovered = notified;
        }
        if (claimed > 0 && claimed < batchSize / 2) {
          // A partial batch: let the next events gather instead of claiming them one by one.
          Thread.sleep(DEFAULT_COALESCE.toMillis());
        }
        if (claimed == 0) {
          // Nothing due (or no room): sleep until an append, a finished chain or the poll interval.
          wakeUp.tryAcquire(pollInterval.toMillis(), TimeUnit.MILLISECONDS);
          wakeUp.drainPermits();
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      } catch (RuntimeException e) {
        // The store is unreachable or similar: back off one poll interval and try again.
        LOG.warn(
            "outbox relay round failed; retrying in {}: {}", pollInterval, Operations.describe(e));
        try {
          Thread.sleep(pollInterval.toMillis());
        } catch (InterruptedException interrupted) {
          Thread.currentThread().interrupt();
          return;
        }
      }
    }
  }

  /** A claimed batch and the completion of its dispatch. */
  private record Round(int claimed, CompletableFuture<Void> done) {}

  /**
   * Claims one batch, dispatches it and waits until every event was acknowledged, failed or
   * released; returns how many events were claimed. For tests and hosts that pump the relay
   * themselves instead of {@link #start()}ing it.
   */
  public int relayOnce() {
    Round round = claimAndDispatch(batchSize);
    round.done().join();
    return round.claimed();
  }

  private Round claimAndDispatch(int max) {
    inFlight.acquireUninterruptibly(max);
    List<OutboxEvent> batch;
    // Read before the call: the store's lease runs from a moment no earlier than this.
    Instant claimedAt = clock.instant();
    try {
      batch = outbox.claim(owner, max, leaseTtl);
    } catch (RuntimeException e) {
      inFlight.release(max);
      throw e;
    }
    inFlight.release(max - batch.size());
    if (batch.isEmpty()) {
      return new Round(0, CompletableFuture.completedFuture(null));
    }
    return new Round(batch.size(), dispatch(batch, claimedAt));
  }

  /**
   * Dispatches a claimed batch, one chain per site, each acknowledged as it completes; the batch's
   * in-flight permits are taken.
   */
  private CompletableFuture<Void> dispatch(List<OutboxEvent> batch, Instant claimedAt) {
    batch.forEach(e -> outstanding.add(e.id()));
    Map<SiteId, List<OutboxEvent>> bySite = new LinkedHashMap<>();
    batch.forEach(e -> bySite.computeIfAbsent(e.site(), s -> new ArrayList<>()).add(e));
    List<CompletableFuture<Void>> sites = new ArrayList<>();
    for (List<OutboxEvent> events : bySite.values()) {
      SiteChain site = new SiteChain(events, claimedAt, leaseTtl, claimMargin);
      dispatching.add(site);
      List<Long> accepted = site.accepted;
      CompletableFuture<Void> chain =
          dispatch
              .start(site)
              .handle((ok, error) -> error)
              .thenCompose(
                  error -> {
                    dispatching.remove(site);
                    // A chain that lost its claim leaves its events to whoever holds the site
                    // now: acknowledging one the new holder is still running would free the site
                    // under it, and the next claim would run the site's later events beside it.
                    // Unacknowledged, they are delivered again (at least once).
                    boolean held = site.notHeld(clock.instant()) == null;
                    return acks.finish(events, held ? accepted : List.of(), error);
                  });
      chains.add(chain);
      chain.whenComplete((ok, error) -> chains.remove(chain));
      sites.add(chain);
    }
    return CompletableFuture.allOf(sites.toArray(CompletableFuture[]::new));
  }

  /** Takes the events the store claimed for this relay on append. */
  private final class LocalClaims implements AppendClaimer {
    @Override
    public String owner() {
      return owner;
    }

    @Override
    public Duration leaseTtl() {
      return leaseTtl;
    }

    @Override
    public boolean hasRoom() {
      return running && !stopping && inFlight.availablePermits() > 0;
    }

    @Override
    public void claimed(Duration leaseAge, List<OutboxEvent> events) {
      Instant claimedAt = clock.instant().minus(leaseAge);
      // Room may have gone since hasRoom(); without permits (or stopping) the events go back.
      if (!stopping && inFlight.tryAcquire(events.size())) {
        // Outstanding from now on, not from the handoff: afterAcks counts on it.
        events.forEach(e -> outstanding.add(e.id()));
        try {
          handoff.execute(() -> dispatch(events, claimedAt));
          return;
        } catch (RejectedExecutionException stopped) {
          events.forEach(e -> outstanding.remove(e.id()));
          inFlight.release(events.size());
        }
      }
      handBack(events);
    }
  }

  /** Releases events this relay cannot take, so the next claim, here or elsewhere, gets them. */
  private void handBack(List<OutboxEvent> events) {
    List<Long> ids = events.stream().map(OutboxEvent::id).toList();
    try {
      outbox.release(owner, ids);
    } catch (RuntimeException e) {
      LOG.warn(
          "releasing {} outbox events claimed on append failed; they come back after their lease:"
              + " {}",
          ids.size(),
          Operations.describe(e));
    }
    wakeUp.release();
  }

  /** Whether the relay runs: {@link #start()} was called and {@link #stop} was not. */
  public boolean isRunning() {
    return running;
  }

  /** The owner id this relay claims as. */
  public String owner() {
    return owner;
  }

  /** Stops claiming; a batch in flight finishes (or is released) within {@code deadline}. */
  public void stop(Duration deadline) {
    Thread thread;
    synchronized (this) {
      if (!running) {
        return;
      }
      running = false;
      stopping = true;
      thread = loop;
    }
    wakeUp.release();
    Optional.ofNullable(appendClaims).ifPresent(Subscription::close);
    Optional.ofNullable(notifications).ifPresent(Subscription::close);
    try {
      thread.join(deadline.toMillis());
      if (thread.isAlive()) {
        thread.interrupt();
        thread.join(deadline.toMillis());
      }
      // Chains in flight submit nothing new once stopping; wait for the ones running.
      CompletableFuture.allOf(chains.toArray(CompletableFuture[]::new))
          .get(deadline.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
      LOG.warn(
          "outbox relay stopped with {} events unacknowledged; they will be redelivered",
          outstanding.size());
    }
    handoff.shutdown();
    renewal.stop();
    acks.stop();
  }

  @Override
  public void close() {
    stop(DEFAULT_SUBMIT_TIMEOUT);
  }

  /** Configures a relay; every default is a named constant of {@link OutboxRelay}. */
  public static final class Builder {
    private final Outbox outbox;
    private final WorkflowEngine engine;
    private final Map<String, List<String>> routes = new HashMap<>();
    private String owner = "relay-" + Long.toHexString(new java.util.SplittableRandom().nextLong());
    private Clock clock = Clock.systemUTC();
    private RetryPolicy retryPolicy = RetryPolicy.defaults();
    // Drawn from on the dispatch threads: each thread's own generator, never one shared instance.
    private RandomGenerator random =
        () -> java.util.concurrent.ThreadLocalRandom.current().nextLong();
    private MeterRegistry meters = new io.micrometer.core.instrument.simple.SimpleMeterRegistry();
    private int batchSize = DEFAULT_BATCH_SIZE;
    private Duration leaseTtl = DEFAULT_LEASE_TTL;
    private Duration pollInterval = DEFAULT_POLL_INTERVAL;
    private Duration submitTimeout = DEFAULT_SUBMIT_TIMEOUT;
    private int maxInFlight = DEFAULT_MAX_IN_FLIGHT;
    private int maxFailures = DEFAULT_MAX_FAILURES;
    private EventBus events;

    private Builder(Outbox outbox, WorkflowEngine engine) {
      this.outbox = java.util.Objects.requireNonNull(outbox, "outbox");
      this.engine = java.util.Objects.requireNonNull(engine, "engine");
    }

    /** Sends events of {@code eventType} to {@code workflow} (several workflows may listen). */
    public Builder route(String eventType, String workflow) {
      routes.computeIfAbsent(eventType, t -> new ArrayList<>()).add(workflow);
      return this;
    }

    /** The claim owner; should contain a per-process instance id. */
    public Builder owner(String owner) {
      this.owner = dev.durabledeploy.spi.Inputs.requireText("owner", owner, 200);
      return this;
    }

    public Builder clock(Clock clock) {
      this.clock = clock;
      return this;
    }

    /** Backoff for events whose dispatch failed. */
    public Builder retryPolicy(RetryPolicy retryPolicy) {
      this.retryPolicy = retryPolicy;
      return this;
    }

    public Builder random(RandomGenerator random) {
      this.random = random;
      return this;
    }

    public Builder meterRegistry(MeterRegistry meters) {
      this.meters = meters;
      return this;
    }

    public Builder batchSize(int batchSize) {
      this.batchSize = (int) Config.requireRange("batchSize", batchSize, 1, 10_000);
      return this;
    }

    /** Most claimed events the background loop dispatches at once; at least the batch size. */
    public Builder maxInFlight(int maxInFlight) {
      this.maxInFlight = maxInFlight;
      return this;
    }

    /**
     * The claim's lease; renewed every third of it while events are in flight. A site's chain
     * submits nothing more once three quarters of it passed without a claim or renewal confirming
     * it (see the class comment).
     */
    public Builder leaseTtl(Duration leaseTtl) {
      this.leaseTtl = Config.requirePositive("leaseTtl", leaseTtl);
      return this;
    }

    public Builder pollInterval(Duration pollInterval) {
      this.pollInterval = Config.requirePositive("pollInterval", pollInterval);
      return this;
    }

    public Builder submitTimeout(Duration submitTimeout) {
      this.submitTimeout = Config.requirePositive("submitTimeout", submitTimeout);
      return this;
    }

    /**
     * Failed dispatches of one event before it is dead-lettered in the outbox; default {@value
     * #DEFAULT_MAX_FAILURES}.
     */
    public Builder maxFailures(int maxFailures) {
      this.maxFailures = (int) Config.requireAtLeast("maxFailures", maxFailures, 1);
      return this;
    }

    /** Where the relay announces dead-lettered events; none by default. */
    public Builder events(EventBus events) {
      this.events = events;
      return this;
    }

    public OutboxRelay build() {
      if (maxInFlight < batchSize) {
        throw new ConfigurationException("maxInFlight", "must be at least batchSize " + batchSize);
      }
      return new OutboxRelay(this);
    }
  }
}
