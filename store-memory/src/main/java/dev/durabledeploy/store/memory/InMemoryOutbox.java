package dev.durabledeploy.store.memory;

import dev.durabledeploy.spi.Inputs;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.events.Subscription;
import dev.durabledeploy.spi.outbox.AppendClaimer;
import dev.durabledeploy.spi.outbox.NewEvent;
import dev.durabledeploy.spi.outbox.Outbox;
import dev.durabledeploy.spi.outbox.OutboxDeadLetter;
import dev.durabledeploy.spi.outbox.OutboxEvent;
import dev.durabledeploy.spi.outbox.OutboxStats;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The reference outbox. Shares its monitor ({@code atom}) with {@link InMemoryMetadataStore} so a
 * command's events are appended in the same atom as its rows.
 */
final class InMemoryOutbox implements Outbox {

  static final int MAX_ERROR_LENGTH = 2000;

  private static final class Row {
    final long id;
    final NewEvent event;
    final Instant createdAt;
    int deliveries;
    int failures;
    String lastError;
    String claimedBy;
    Instant claimExpiresAt;
    Instant nextAttemptAt;
    Instant deliveredAt;
    Instant deadLetteredAt;

    Row(long id, NewEvent event, Instant createdAt) {
      this.id = id;
      this.event = event;
      this.createdAt = createdAt;
      this.nextAttemptAt = createdAt;
    }

    boolean claimLiveAt(Instant now) {
      return claimedBy != null && claimExpiresAt.isAfter(now);
    }

    OutboxEvent snapshot() {
      return new OutboxEvent(
          id,
          event.site(),
          event.type(),
          event.payload(),
          createdAt,
          deliveries,
          lastError,
          failures);
    }
  }

  private final Object atom;
  private final Clock clock;
  private final TreeMap<Long, Row> undelivered = new TreeMap<>();
  private final TreeMap<Long, Row> delivered = new TreeMap<>();
  private final TreeMap<Long, Row> deadLetters = new TreeMap<>();
  private final List<Runnable> listeners = new CopyOnWriteArrayList<>();
  private final List<AppendClaimer> claimers = new CopyOnWriteArrayList<>();
  private long nextId = 1;

  InMemoryOutbox(Object atom, Clock clock) {
    this.atom = atom;
    this.clock = clock;
  }

  /**
   * Appends inside the caller's atom; the caller holds {@code atom} and, after it, calls {@link
   * #notifyAppended} with the ids.
   */
  long appendLocked(NewEvent event, Instant now) {
    long id = nextId++;
    undelivered.put(id, new Row(id, event, now));
    return id;
  }

  /**
   * After the atom that appended {@code ids}: hands a local relay those it may take at once ({@link
   * #claimOnAppend}), and wakes the listeners unless it took them all.
   */
  void notifyAppended(List<Long> ids) {
    AppendClaimer claimer = pickClaimer();
    if (claimer != null) {
      List<OutboxEvent> claimed = claimAppended(claimer, ids);
      if (!claimed.isEmpty()) {
        claimer.claimed(Duration.ZERO, claimed);
      }
      if (claimed.size() == ids.size()) {
        return;
      }
    }
    wakeListeners();
  }

  private void wakeListeners() {
    for (Runnable listener : listeners) {
      listener.run();
    }
  }

  private AppendClaimer pickClaimer() {
    for (AppendClaimer claimer : claimers) {
      if (claimer.hasRoom()) {
        return claimer;
      }
    }
    return null;
  }

  /**
   * Claims for {@code claimer} the sites all of whose undelivered events are among {@code ids}, due
   * and unclaimed: the sites that had nothing undelivered before the atom that appended them.
   */
  private List<OutboxEvent> claimAppended(AppendClaimer claimer, List<Long> ids) {
    Set<Long> appended = new HashSet<>(ids);
    synchronized (atom) {
      Instant now = clock.instant();
      Set<SiteId> sites = new HashSet<>();
      ids.stream()
          .map(undelivered::get)
          .filter(r -> r != null)
          .forEach(r -> sites.add(r.event.site()));
      for (Row row : undelivered.values()) {
        SiteId site = row.event.site();
        if (sites.contains(site)
            && (!appended.contains(row.id)
                || row.claimLiveAt(now)
                || row.nextAttemptAt.isAfter(now))) {
          sites.remove(site);
        }
      }
      List<OutboxEvent> claimed = new ArrayList<>();
      for (long id : ids) {
        Row row = undelivered.get(id);
        if (row != null && sites.contains(row.event.site())) {
          row.claimedBy = claimer.owner();
          row.claimExpiresAt = now.plus(claimer.leaseTtl());
          row.deliveries++;
          claimed.add(row.snapshot());
        }
      }
      return claimed;
    }
  }

  @Override
  public long append(NewEvent event) {
    long id;
    synchronized (atom) {
      id = appendLocked(event, clock.instant());
    }
    notifyAppended(List.of(id));
    return id;
  }

  @Override
  public List<OutboxEvent> claim(String owner, int maxEvents, Duration leaseTtl) {
    requireOwner(owner);
    Inputs.requireRange("maxEvents", maxEvents, 1, 10_000);
    Inputs.requirePositive("leaseTtl", leaseTtl);
    synchronized (atom) {
      Instant now = clock.instant();
      Set<SiteId> blocked = new HashSet<>();
      for (Row row : undelivered.values()) {
        if (row.claimLiveAt(now)) {
          blocked.add(row.event.site());
        }
      }
      List<OutboxEvent> claimed = new ArrayList<>();
      for (Row row : undelivered.values()) {
        if (claimed.size() == maxEvents) {
          break;
        }
        SiteId site = row.event.site();
        if (blocked.contains(site)) {
          continue;
        }
        if (row.nextAttemptAt.isAfter(now)) {
          // Not due: it and everything after it in its site wait (per-site order).
          blocked.add(site);
          continue;
        }
        row.claimedBy = owner;
        row.claimExpiresAt = now.plus(leaseTtl);
        row.deliveries++;
        claimed.add(row.snapshot());
      }
      return claimed;
    }
  }

  @Override
  public int ack(String owner, Collection<Long> ids) {
    requireOwner(owner);
    synchronized (atom) {
      Instant now = clock.instant();
      int count = 0;
      for (Long id : ids) {
        Row row = undelivered.remove(id);
        if (row != null) {
          row.deliveredAt = now;
          row.claimedBy = null;
          delivered.put(id, row);
          count++;
        }
      }
      return count;
    }
  }

  @Override
  public boolean fail(String owner, long id, String error, Instant nextAttemptAt) {
    requireOwner(owner);
    synchronized (atom) {
      Row row = undelivered.get(id);
      if (row == null || !owner.equals(row.claimedBy)) {
        return false;
      }
      row.claimedBy = null;
      row.claimExpiresAt = null;
      row.lastError = truncate(error);
      row.failures++;
      row.nextAttemptAt = nextAttemptAt;
      return true;
    }
  }

  @Override
  public boolean deadLetter(String owner, long id, String error) {
    requireOwner(owner);
    synchronized (atom) {
      Row row = undelivered.get(id);
      if (row == null || !owner.equals(row.claimedBy)) {
        return false;
      }
      undelivered.remove(id);
      row.claimedBy = null;
      row.claimExpiresAt = null;
      row.lastError = truncate(error);
      row.failures++;
      row.deadLetteredAt = clock.instant();
      deadLetters.put(id, row);
      return true;
    }
  }

  @Override
  public List<OutboxDeadLetter> deadLetters(int limit) {
    Inputs.requireRange("limit", limit, 1, 10_000);
    synchronized (atom) {
      return deadLetters.values().stream()
          .limit(limit)
          .map(r -> new OutboxDeadLetter(r.snapshot(), r.deadLetteredAt))
          .toList();
    }
  }

  @Override
  public boolean retryDeadLetter(long id) {
    synchronized (atom) {
      Row row = deadLetters.remove(id);
      if (row == null) {
        return false;
      }
      row.deadLetteredAt = null;
      row.failures = 0;
      row.nextAttemptAt = clock.instant();
      undelivered.put(id, row);
    }
    wakeListeners();
    return true;
  }

  @Override
  public boolean discardDeadLetter(long id) {
    synchronized (atom) {
      return deadLetters.remove(id) != null;
    }
  }

  @Override
  public int release(String owner, Collection<Long> ids) {
    requireOwner(owner);
    synchronized (atom) {
      int count = 0;
      for (Long id : ids) {
        Row row = undelivered.get(id);
        if (row != null && owner.equals(row.claimedBy)) {
          row.claimedBy = null;
          row.claimExpiresAt = null;
          count++;
        }
      }
      return count;
    }
  }

  @Override
  public int renew(String owner, Collection<Long> ids, Duration leaseTtl) {
    requireOwner(owner);
    Inputs.requirePositive("leaseTtl", leaseTtl);
    synchronized (atom) {
      Instant now = clock.instant();
      int count = 0;
      for (Long id : ids) {
        Row row = undelivered.get(id);
        if (row != null && owner.equals(row.claimedBy) && row.claimLiveAt(now)) {
          row.claimExpiresAt = now.plus(leaseTtl);
          count++;
        }
      }
      return count;
    }
  }

  @Override
  public int purgeDelivered(Instant cutoff, int limit) {
    Inputs.requireRange("limit", limit, 1, 1_000_000);
    synchronized (atom) {
      int count = 0;
      Iterator<Row> it = delivered.values().iterator();
      while (it.hasNext() && count < limit) {
        Row row = it.next();
        if (row.deliveredAt.isBefore(cutoff)) {
          it.remove();
          count++;
        }
      }
      return count;
    }
  }

  @Override
  public OutboxStats stats() {
    synchronized (atom) {
      Instant now = clock.instant();
      long claimed = undelivered.values().stream().filter(r -> r.claimLiveAt(now)).count();
      Instant oldest = undelivered.isEmpty() ? null : undelivered.firstEntry().getValue().createdAt;
      return new OutboxStats(undelivered.size(), claimed, oldest, deadLetters.size());
    }
  }

  @Override
  public Optional<Subscription> onAppend(Runnable wakeUp) {
    listeners.add(wakeUp);
    return Optional.of(() -> listeners.remove(wakeUp));
  }

  /**
   * Right after an atom appended events, claims those of sites that had nothing undelivered for the
   * first registered claimer with room, and hands them over.
   */
  @Override
  public Optional<Subscription> claimOnAppend(AppendClaimer claimer) {
    claimers.add(claimer);
    return Optional.of(() -> claimers.remove(claimer));
  }

  /** Every event ever appended and not purged, delivered or not, in id order (for assertions). */
  List<OutboxEvent> allEvents() {
    synchronized (atom) {
      TreeMap<Long, Row> all = new TreeMap<>(delivered);
      all.putAll(undelivered);
      all.putAll(deadLetters);
      return all.values().stream().map(Row::snapshot).toList();
    }
  }

  static String truncate(String error) {
    String text = error == null ? "" : error;
    return text.length() <= MAX_ERROR_LENGTH ? text : text.substring(0, MAX_ERROR_LENGTH);
  }

  static void requireOwner(String owner) {
    Inputs.requireText("owner", owner, 200);
  }
}
