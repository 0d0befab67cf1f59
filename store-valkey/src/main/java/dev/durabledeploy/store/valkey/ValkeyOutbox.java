package dev.durabledeploy.store.valkey;

import dev.durabledeploy.spi.Inputs;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.events.Subscription;
import dev.durabledeploy.spi.outbox.NewEvent;
import dev.durabledeploy.spi.outbox.Outbox;
import dev.durabledeploy.spi.outbox.OutboxDeadLetter;
import dev.durabledeploy.spi.outbox.OutboxEvent;
import dev.durabledeploy.spi.outbox.OutboxStats;
import io.lettuce.core.ScriptOutputType;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * The outbox on Valkey: every operation is one Lua script (see {@code outbox-*.lua} and {@code
 * Keys} for the layout). Each site with undelivered events sits in exactly one of three sorted sets
 * — ready (by its oldest event's id), leased (by its claim's expiry) or delayed (by its failed
 * head's next attempt) — so a claim takes the ready sites in order of their oldest event without
 * scanning the blocked ones, and a site's events go to one owner at a time, in id order.
 *
 * <p>Leases and retry times come from the store's clock, like every store (the TCK moves it), so
 * this does not use consumer groups: {@code XAUTOCLAIM} measures idle time on the server's clock,
 * and a group hands a stream's entries to several consumers at once, which breaks per-site order
 * unless each site had its own group. A capped stream still wakes relays: {@link #onAppend} reads
 * it with {@code XREAD BLOCK}.
 */
final class ValkeyOutbox implements Outbox {

  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(ValkeyOutbox.class);
  private static final int MAX_ERROR_LENGTH = 2000;
  private static final int PURGE_BATCH = 1_000;

  private final Valkey valkey;
  private final Keys keys;
  private final Clock clock;
  private final AppendWatcher watcher;

  ValkeyOutbox(Valkey valkey, Keys keys, Clock clock, AppendWatcher watcher) {
    this.valkey = valkey;
    this.keys = keys;
    this.clock = clock;
    this.watcher = watcher;
  }

  @Override
  public long append(NewEvent event) {
    List<String> args = new ArrayList<>();
    args.add(keys.namespace());
    args.add(event.site().value());
    args.add(event.type());
    args.add(Micros.of(Micros.now(clock)));
    event
        .payload()
        .forEach(
            (k, v) -> {
              args.add(k);
              args.add(v);
            });
    Long id = valkey.script("outbox-append", ScriptOutputType.INTEGER, List.of(), args);
    return id;
  }

  @Override
  public List<OutboxEvent> claim(String owner, int maxEvents, Duration leaseTtl) {
    Inputs.requireText("owner", owner, 200);
    Inputs.requireRange("maxEvents", maxEvents, 1, 10_000);
    Inputs.requirePositive("leaseTtl", leaseTtl);
    Instant now = Micros.now(clock);
    List<Object> reply =
        valkey.script(
            "outbox-claim",
            ScriptOutputType.MULTI,
            List.of(),
            List.of(
                keys.namespace(),
                owner,
                Integer.toString(maxEvents),
                Micros.of(now),
                Micros.of(now.plus(leaseTtl))));
    int lost = ((Long) reply.get(0)).intValue();
    for (int k = 0; k < lost; k++) {
      // Never thrown: one missing event must not stop the outbox for every site.
      LOG.warn(
          "outbox event {} of site {} is missing from Valkey/Redis (evicted, or deleted by hand):"
              + " skipped, its consumers will not see it; check that maxmemory-policy is"
              + " noeviction (ValkeyStore.lostOutboxEvents() counts these)",
          reply.get(1 + 2 * k),
          reply.get(2 + 2 * k));
    }
    List<OutboxEvent> events = new ArrayList<>();
    hashes(reply, 1 + 2 * lost).forEach((id, hash) -> events.add(event(id, hash)));
    events.sort((a, b) -> Long.compare(a.id(), b.id()));
    return events;
  }

  /**
   * Parses a flat reply of {@code id, n, k1, v1, ...} per event from index {@code from}, keeping
   * its order.
   */
  private static Map<Long, Map<String, String>> hashes(List<Object> reply, int from) {
    Map<Long, Map<String, String>> out = new java.util.LinkedHashMap<>();
    int i = from;
    while (i < reply.size()) {
      long id = Long.parseLong((String) reply.get(i));
      int n = ((Long) reply.get(i + 1)).intValue();
      Map<String, String> hash = new HashMap<>();
      for (int j = 0; j < n; j += 2) {
        hash.put((String) reply.get(i + 2 + j), (String) reply.get(i + 3 + j));
      }
      out.put(id, hash);
      i += 2 + n;
    }
    return out;
  }

  private static OutboxEvent event(long id, Map<String, String> hash) {
    Map<String, String> payload = new HashMap<>();
    hash.forEach(
        (k, v) -> {
          if (k.startsWith("p.")) {
            payload.put(k.substring(2), v);
          }
        });
    return new OutboxEvent(
        id,
        SiteId.of(hash.get("site")),
        hash.get("type"),
        payload,
        Micros.parse(hash.get("created")),
        Integer.parseInt(hash.get("attempts")),
        hash.get("error"),
        Integer.parseInt(hash.getOrDefault("failures", "0")));
  }

  @Override
  public int ack(String owner, Collection<Long> ids) {
    return settle("ack", owner, ids, "", "");
  }

  @Override
  public boolean fail(String owner, long id, String error, Instant nextAttemptAt) {
    String text = error == null ? "" : error;
    String truncated =
        text.length() <= MAX_ERROR_LENGTH ? text : text.substring(0, MAX_ERROR_LENGTH);
    Objects.requireNonNull(nextAttemptAt, "nextAttemptAt");
    return settle("fail", owner, List.of(id), Micros.of(nextAttemptAt), truncated) == 1;
  }

  @Override
  public boolean deadLetter(String owner, long id, String error) {
    String text = error == null ? "" : error;
    String truncated =
        text.length() <= MAX_ERROR_LENGTH ? text : text.substring(0, MAX_ERROR_LENGTH);
    return settle("deadletter", owner, List.of(id), "", truncated) == 1;
  }

  @Override
  public List<OutboxDeadLetter> deadLetters(int limit) {
    Inputs.requireRange("limit", limit, 1, 10_000);
    List<Object> reply =
        valkey.script(
            "outbox-dead-letters",
            ScriptOutputType.MULTI,
            List.of(),
            List.of(keys.namespace(), Integer.toString(limit)));
    List<OutboxDeadLetter> letters = new ArrayList<>();
    hashes(reply, 0)
        .forEach(
            (id, hash) ->
                letters.add(new OutboxDeadLetter(event(id, hash), Micros.parse(hash.get("dead")))));
    return letters;
  }

  @Override
  public boolean retryDeadLetter(long id) {
    Long changed =
        valkey.script(
            "outbox-retry",
            ScriptOutputType.INTEGER,
            List.of(),
            List.of(keys.namespace(), Long.toString(id), Micros.of(Micros.now(clock))));
    return changed == 1;
  }

  @Override
  public boolean discardDeadLetter(long id) {
    Long changed =
        valkey.script(
            "outbox-discard",
            ScriptOutputType.INTEGER,
            List.of(),
            List.of(keys.namespace(), Long.toString(id)));
    return changed == 1;
  }

  @Override
  public int release(String owner, Collection<Long> ids) {
    return settle("release", owner, ids, "", "");
  }

  @Override
  public int renew(String owner, Collection<Long> ids, Duration leaseTtl) {
    Inputs.requirePositive("leaseTtl", leaseTtl);
    return settle("renew", owner, ids, Micros.of(Micros.now(clock).plus(leaseTtl)), "");
  }

  private int settle(String action, String owner, Collection<Long> ids, String arg, String error) {
    Inputs.requireText("owner", owner, 200);
    if (ids.isEmpty()) {
      return 0;
    }
    List<String> args = new ArrayList<>(ids.size() + 6);
    args.add(keys.namespace());
    args.add(action);
    args.add(owner);
    args.add(Micros.of(Micros.now(clock)));
    args.add(arg);
    args.add(error);
    ids.forEach(id -> args.add(Long.toString(id)));
    Long changed = valkey.script("outbox-settle", ScriptOutputType.INTEGER, List.of(), args);
    return changed.intValue();
  }

  @Override
  public int purgeDelivered(Instant cutoff, int limit) {
    Objects.requireNonNull(cutoff, "cutoff");
    Inputs.requireRange("limit", limit, 1, 1_000_000);
    int purged = 0;
    while (purged < limit) {
      int batch = Math.min(PURGE_BATCH, limit - purged);
      Long n =
          valkey.script(
              "outbox-purge",
              ScriptOutputType.INTEGER,
              List.of(),
              List.of(keys.namespace(), Micros.of(cutoff), Integer.toString(batch)));
      purged += n.intValue();
      if (n < batch) {
        break;
      }
    }
    return purged;
  }

  @Override
  public OutboxStats stats() {
    List<Object> reply =
        valkey.script(
            "outbox-stats",
            ScriptOutputType.MULTI,
            List.of(),
            List.of(keys.namespace(), Micros.of(Micros.now(clock))));
    return new OutboxStats(
        (Long) reply.get(0),
        (Long) reply.get(1),
        Micros.parse((String) reply.get(2)),
        (Long) reply.get(3));
  }

  /** How many events claims found missing and skipped in this namespace, ever. */
  long lost() {
    String n =
        valkey.call(
            "reading the outbox's lost-event count",
            () -> valkey.commands().get(keys.outbox("lost")));
    return n == null ? 0 : Long.parseLong(n);
  }

  @Override
  public Optional<Subscription> onAppend(Runnable wakeUp) {
    return Optional.of(watcher.subscribe(wakeUp));
  }
}
