package dev.durabledeploy.core.retry;

import java.time.Duration;

/** Waits between attempts; injectable so tests retry without waiting. */
@FunctionalInterface
public interface Sleeper {

  /** Really sleeps. */
  Sleeper SYSTEM = d -> Thread.sleep(d.toMillis(), (int) (d.toNanos() % 1_000_000));

  void sleep(Duration duration) throws InterruptedException;
}
