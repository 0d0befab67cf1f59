package dev.durabledeploy.core.outbox;

import dev.durabledeploy.core.events.Operations;
import dev.durabledeploy.spi.outbox.Outbox;
import dev.durabledeploy.spi.support.Threads;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Extends the relay's claims in flight every third of the lease, on a thread of its own, and tells
 * each chain what its claim is worth: a renewal that extended all of a chain's events confirms it,
 * one that extended fewer stops it.
 */
final class ClaimRenewal {

  private static final Logger LOG = LoggerFactory.getLogger(OutboxRelay.class);

  private final Outbox outbox;
  private final String owner;
  private final Duration leaseTtl;
  private final Clock clock;
  private final Set<SiteChain> dispatching;
  private final Set<Long> outstanding;
  private final ScheduledExecutorService renewer;

  ClaimRenewal(
      Outbox outbox,
      String owner,
      Duration leaseTtl,
      Clock clock,
      Set<SiteChain> dispatching,
      Set<Long> outstanding) {
    this.outbox = outbox;
    this.owner = owner;
    this.leaseTtl = leaseTtl;
    this.clock = clock;
    this.dispatching = dispatching;
    this.outstanding = outstanding;
    this.renewer =
        Executors.newSingleThreadScheduledExecutor(
            Threads.daemonNamed("durable-outbox-renew-" + owner));
  }

  void start() {
    long renewEvery = Math.max(1, leaseTtl.toMillis() / 3);
    renewer.scheduleAtFixedRate(this::renew, renewEvery, renewEvery, TimeUnit.MILLISECONDS);
  }

  void stop() {
    renewer.shutdownNow();
  }

  /**
   * Extends the claims in flight. When the store extended fewer than asked, renews chain by chain
   * to find the sites whose claim is gone, and stops those chains; a renewal that fails confirms
   * nothing, so chains stop by themselves once their claim may have run out.
   */
  void renew() {
    try {
      List<SiteChain> active = List.copyOf(dispatching);
      List<Long> ids = List.copyOf(outstanding);
      if (ids.isEmpty()) {
        return;
      }
      Instant at = clock.instant();
      if (outbox.renew(owner, ids, leaseTtl) == ids.size()) {
        active.forEach(chain -> chain.confirm(at));
        return;
      }
      // Something was not extended: a claim ran out (and may be someone else's now), or an event
      // was settled meanwhile. Only a chain still dispatching needs to know which.
      for (SiteChain chain : active) {
        // Only what is still outstanding: an acknowledged event stays in the chain's held set, and
        // the store extends no delivered event, so counting it read as a lost claim and stopped a
        // chain that still held its site.
        List<Long> held = chain.held.stream().filter(outstanding::contains).toList();
        if (held.isEmpty() || !dispatching.contains(chain)) {
          continue;
        }
        Instant chainAt = clock.instant();
        int renewed = outbox.renew(owner, held, leaseTtl);
        if (renewed == held.size()) {
          chain.confirm(chainAt);
        } else {
          chain.lose("a renewal extended " + renewed + " of its " + held.size() + " events");
        }
      }
    } catch (RuntimeException e) {
      LOG.warn(
          "renewing the outbox lease failed; chains stop once their claim may have expired: {}",
          Operations.describe(e));
    }
  }
}
