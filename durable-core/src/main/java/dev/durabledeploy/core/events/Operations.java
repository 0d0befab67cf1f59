package dev.durabledeploy.core.events;

import dev.durabledeploy.spi.Actor;
import dev.durabledeploy.spi.Authorizer;
import dev.durabledeploy.spi.Inputs;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.events.EventBus;
import dev.durabledeploy.spi.events.OperationEvent;
import dev.durabledeploy.spi.exception.DeployNotFoundException;
import dev.durabledeploy.spi.exception.SiteLockLostException;
import dev.durabledeploy.spi.lock.Fence;
import dev.durabledeploy.spi.lock.SiteLock;
import dev.durabledeploy.spi.lock.SiteLocks;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Clock;
import java.time.Duration;
import java.util.Locale;
import java.util.Optional;
import java.util.function.Function;
import java.util.random.RandomGenerator;

/**
 * Runs a long operation with its lifecycle: a {@code Started} event, then {@code Succeeded}, {@code
 * Failed} or {@code Skipped}, and a {@code durable.operation} timer tagged with {@code operation}
 * and {@code outcome}. A {@link DeployNotFoundException} means the site or deploy disappeared
 * (deleted meanwhile): it is reported as {@code Skipped}, never as a crash, and rethrown typed.
 *
 * <p>It also holds the host's {@link Authorizer}: every mutation a host calls asks {@link
 * #authorize} before it starts its operation, so a refused call is no operation at all (no event,
 * no lock, no write).
 */
public final class Operations {

  private final EventBus bus;
  private final MeterRegistry meters;
  private final Clock clock;
  private final RandomGenerator random;
  private final Authorizer authorizer;

  /** Operations that allow every actor every action ({@link Authorizer#ALLOW_ALL}). */
  public Operations(EventBus bus, MeterRegistry meters, Clock clock, RandomGenerator random) {
    this(bus, meters, clock, random, Authorizer.ALLOW_ALL);
  }

  public Operations(
      EventBus bus,
      MeterRegistry meters,
      Clock clock,
      RandomGenerator random,
      Authorizer authorizer) {
    this.bus = bus;
    this.meters = meters;
    this.clock = clock;
    this.random = random;
    this.authorizer = java.util.Objects.requireNonNull(authorizer, "authorizer");
  }

  /**
   * Asks the host's authorizer whether {@code actor} may perform {@code action} on {@code site}
   * (null: across every site); throws its {@link
   * dev.durabledeploy.spi.exception.AccessDeniedException} when not. Called at the entry of a
   * host-initiated mutation, before its operation starts; never by background work.
   */
  public void authorize(Actor actor, SiteId site, String action) {
    authorizer.authorize(actor, site, action);
  }

  public EventBus bus() {
    return bus;
  }

  public Clock clock() {
    return clock;
  }

  /** Runs {@code body} as operation {@code name} on {@code site} (null when not site-scoped). */
  public <T> T run(String name, SiteId site, Function<Operation, T> body) {
    Operation op = new Operation(newId(name), name, site);
    long start = System.nanoTime();
    bus.publish(new OperationEvent.Started(op.id(), name, site, clock.instant()));
    try {
      T result = body.apply(op);
      Duration took = Duration.ofNanos(System.nanoTime() - start);
      bus.publish(
          new OperationEvent.Succeeded(
              op.id(), name, site, took, summary(result), clock.instant()));
      record(name, "success", took);
      return result;
    } catch (Skip skip) {
      bus.publish(
          new OperationEvent.Skipped(op.id(), name, site, skip.getMessage(), clock.instant()));
      record(name, "skipped", Duration.ofNanos(System.nanoTime() - start));
      return null;
    } catch (DeployNotFoundException e) {
      bus.publish(new OperationEvent.Skipped(op.id(), name, site, e.getMessage(), clock.instant()));
      record(name, "skipped", Duration.ofNanos(System.nanoTime() - start));
      throw e;
    } catch (RuntimeException | Error e) {
      bus.publish(new OperationEvent.Failed(op.id(), name, site, describe(e), clock.instant()));
      record(name, "failure", Duration.ofNanos(System.nanoTime() - start));
      throw e;
    }
  }

  /** An error for an event: type and message, scrubbed of anything that looks like a secret. */
  public static String describe(Throwable error) {
    return Inputs.redactCredentials(error.getClass().getSimpleName() + ": " + error.getMessage());
  }

  private void record(String name, String outcome, Duration took) {
    Timer.builder("durable.operation")
        .description("durations of deploy-plane operations")
        .tag("operation", name)
        .tag("outcome", outcome)
        .register(meters)
        .record(took);
  }

  private String newId(String name) {
    return String.format(Locale.ROOT, "%s-%016x", name, random.nextLong());
  }

  private static String summary(Object result) {
    if (result == null) {
      return "";
    }
    String text = result.toString();
    return text.length() <= 500 ? text : text.substring(0, 500) + "...";
  }

  /**
   * One running operation; its id is the subject of its events.
   *
   * <p><b>Fencing.</b> An operation that takes its site's lock with {@link #lockSite} is fenced by
   * it: every step it runs through the {@link dev.durabledeploy.core.retry.Retrier} first checks
   * {@link #requireLockHeld()}, a local check of {@link SiteLock#isHeld()} with no round trip, and
   * stops with {@link SiteLockLostException} before the step's side effect once the store may have
   * let someone else take the lock. Guaranteed: no step <em>starts</em> after the lock is lost, and
   * a prefix move or delete in flight stops at its next object ({@link #fence()}, passed to the
   * blob store). Not guaranteed: a single call already in flight when the lock expires completes (a
   * put, one object's copy, a commit that hung); what such a late write could undo is guarded where
   * it lands (the alias projection is version-guarded and re-checks after writing; alias moves are
   * compare-and-set).
   */
  public final class Operation {
    private final String id;
    private final String name;
    private final SiteId site;
    private volatile SiteLock fence;

    Operation(String id, String name, SiteId site) {
      this.id = id;
      this.name = name;
      this.site = site;
    }

    public String id() {
      return id;
    }

    public String name() {
      return name;
    }

    public SiteId site() {
      return site;
    }

    public void progress(long done, long total, String message) {
      bus.publish(
          new OperationEvent.Progress(id, name, site, done, total, message, clock.instant()));
    }

    /**
     * Ends the operation as a clean no-op: it reports {@code Skipped} with {@code reason} and
     * {@link Operations#run} returns null. Use it when the work's subject disappeared meanwhile.
     */
    public <T> T skip(String reason) {
      throw new Skip(reason);
    }

    /**
     * Takes {@code site}'s lock for this operation and fences the operation's steps by it until the
     * returned lock is closed (closing it releases the lock).
     *
     * @throws dev.durabledeploy.spi.exception.SiteBusyException when the lock is not free within
     *     {@code timeout}
     */
    public SiteLock lockSite(SiteLocks locks, SiteId site, Duration timeout) {
      SiteLock lock = locks.acquire(site, timeout);
      SiteLock previous = fence;
      fence = lock;
      java.util.concurrent.atomic.AtomicBoolean open =
          new java.util.concurrent.atomic.AtomicBoolean(true);
      return new SiteLock() {
        @Override
        public SiteId site() {
          return lock.site();
        }

        @Override
        public boolean isHeld() {
          return lock.isHeld();
        }

        @Override
        public Optional<Duration> validFor() {
          return lock.validFor();
        }

        @Override
        public void close() {
          if (!open.compareAndSet(true, false)) {
            return;
          }
          try {
            lock.close();
          } finally {
            fence = previous;
          }
        }
      };
    }

    /**
     * Throws {@link SiteLockLostException} when this operation runs under a site lock (taken with
     * {@link #lockSite}) that is no longer held. Cheap: no round trip.
     */
    public void requireLockHeld() {
      Optional<SiteLockLostException> lost = lostLock();
      if (lost.isPresent()) {
        throw lost.get();
      }
    }

    /**
     * {@link #requireLockHeld()} as a {@link Fence}, for the bulk blob operations that check it
     * before each object ({@code BlobStore.movePrefix(from, to, fence)}, {@code
     * deletePrefix(prefix, fence)}): a prefix move in flight when the lock is lost stops at its
     * next object.
     */
    public Fence fence() {
      return this::requireLockHeld;
    }

    /** The failure to report when this operation runs under a site lock no longer held. */
    public Optional<SiteLockLostException> lostLock() {
      SiteLock lock = fence;
      return lock != null && !lock.isHeld()
          ? Optional.of(new SiteLockLostException(lock.site(), name))
          : Optional.empty();
    }

    public void retrying(int nextAttempt, Duration delay, Throwable error) {
      bus.publish(
          new OperationEvent.Retrying(
              id, name, site, nextAttempt, delay, describe(error), clock.instant()));
    }
  }

  /** Carries a {@link Operation#skip} out of the operation's body. */
  private static final class Skip extends RuntimeException {
    Skip(String reason) {
      super(reason, null, false, false);
    }
  }
}
