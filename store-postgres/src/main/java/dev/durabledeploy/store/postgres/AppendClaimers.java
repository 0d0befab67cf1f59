package dev.durabledeploy.store.postgres;

import dev.durabledeploy.spi.events.Subscription;
import dev.durabledeploy.spi.outbox.AppendClaimer;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/** The relays of this process registered through {@link PgOutbox#claimOnAppend}. */
final class AppendClaimers {

  private final List<AppendClaimer> claimers = new CopyOnWriteArrayList<>();
  private final AtomicInteger next = new AtomicInteger();

  Subscription add(AppendClaimer claimer) {
    claimers.add(claimer);
    return () -> claimers.remove(claimer);
  }

  /** A claimer with room, taking turns between several; null when none has room. */
  AppendClaimer pick() {
    int size = claimers.size();
    if (size == 0) {
      return null;
    }
    int first = Math.floorMod(next.getAndIncrement(), size);
    for (int i = 0; i < size; i++) {
      AppendClaimer claimer;
      try {
        claimer = claimers.get((first + i) % size);
      } catch (IndexOutOfBoundsException removedMeanwhile) {
        return null;
      }
      if (claimer.hasRoom()) {
        return claimer;
      }
    }
    return null;
  }
}
