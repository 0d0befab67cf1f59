package dev.durabledeploy.testkit;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A {@link Clock} tests move by hand, shared safely between threads. Inject it wherever the library
 * takes a clock to test expiry, leases and retention without sleeping.
 */
public final class MutableClock extends Clock {

  /** A fixed, unremarkable starting point. */
  public static final Instant DEFAULT_START = Instant.parse("2026-01-15T10:00:00Z");

  private final AtomicReference<Instant> now;
  private final ZoneId zone;

  public MutableClock(Instant start) {
    this(new AtomicReference<>(start), ZoneOffset.UTC);
  }

  public MutableClock() {
    this(DEFAULT_START);
  }

  private MutableClock(AtomicReference<Instant> now, ZoneId zone) {
    this.now = now;
    this.zone = zone;
  }

  /** Moves the clock forward by {@code step} and returns the new time. */
  public Instant advance(Duration step) {
    if (step.isNegative()) {
      throw new IllegalArgumentException("time only moves forward in tests too: " + step);
    }
    return now.updateAndGet(t -> t.plus(step));
  }

  /** Sets the time; may move backwards to simulate clock skew. */
  public void set(Instant instant) {
    now.set(instant);
  }

  @Override
  public Instant instant() {
    return now.get();
  }

  @Override
  public ZoneId getZone() {
    return zone;
  }

  @Override
  public Clock withZone(ZoneId zone) {
    return new MutableClock(now, zone);
  }
}
