package dev.durabledeploy.core.outbox;

import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.outbox.OutboxEvent;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One site's claimed run of events on its way to the engine, and whether the relay can still show
 * it holds their claim (see {@link OutboxRelay}'s class comment: a claim counts for {@code leaseTtl
 * - margin} after the call that made or last extended it).
 */
final class SiteChain {
  final SiteId site;
  final List<OutboxEvent> events;
  final List<Long> accepted = Collections.synchronizedList(new ArrayList<>());

  /** Ids still under this relay's claim: every event but the dead-lettered ones. */
  final Set<Long> held = ConcurrentHashMap.newKeySet();

  private final Duration leaseTtl;
  private final Duration margin;

  // Guarded by this.
  private Instant holdsUntil;
  private String lostBecause;

  SiteChain(List<OutboxEvent> events, Instant claimedAt, Duration leaseTtl, Duration margin) {
    this.site = events.get(0).site();
    this.events = events;
    this.leaseTtl = leaseTtl;
    this.margin = margin;
    events.forEach(e -> held.add(e.id()));
    this.holdsUntil = claimedAt.plus(leaseTtl).minus(margin);
  }

  /** Every held event's lease was extended by a call issued at {@code at}. */
  synchronized void confirm(Instant at) {
    Instant until = at.plus(leaseTtl).minus(margin);
    if (until.isAfter(holdsUntil)) {
      holdsUntil = until;
    }
  }

  synchronized void lose(String why) {
    if (lostBecause == null) {
      lostBecause = why;
    }
  }

  /** Why the chain may not submit at {@code now}, or null when it may. */
  synchronized String notHeld(Instant now) {
    if (lostBecause != null) {
      return lostBecause;
    }
    return now.isBefore(holdsUntil)
        ? null
        : "no claim or renewal confirmed it since " + holdsUntil.minus(leaseTtl).plus(margin);
  }
}
