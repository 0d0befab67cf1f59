package dev.durabledeploy.store.postgres;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
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
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The outbox on PostgreSQL. A claim runs in one transaction: lock a window of the oldest
 * undelivered rows with {@code FOR UPDATE SKIP LOCKED}, decide in Java which of them may be handed
 * out under the per-site ordering rule, and stamp those with the owner and lease expiry.
 *
 * <p>Claims of one schema run one at a time under a transaction-level advisory lock, so a claimer
 * sees every claim committed before it and no claimer's row locks break another's runs; the
 * dispatch after the claim, the long part, stays parallel across relays. A claimer that finds the
 * lock held gets an empty claim at once rather than queueing: the holder hands out what is
 * claimable, and the relay that backed off claims again on its next wake-up or poll. Skipped rows
 * (held by another statement, such as an acknowledgement) are invisible to a claimer, so after
 * locking it reads every undelivered event of the sites it locked rows of, in id order, and hands
 * out a site's events only while each next one is a row it locked and due, and only if none of the
 * site's events is under a live claim. A held row — the site's head or any event in between — thus
 * stops the site's run, which keeps per-site order.
 *
 * <p>An append in a transaction the store runs (a metadata command, {@link #append(NewEvent)})
 * claims its events for a relay of this process registered with {@link #claimOnAppend} in the
 * INSERT itself, when their site has no undelivered event, and hands them to it from JDBI's
 * after-commit hook; the statement sends {@code NOTIFY} only when it left an event unclaimed.
 */
final class PgOutbox implements Outbox {

  private static final Logger LOG = LoggerFactory.getLogger(PgOutbox.class);
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final TypeReference<LinkedHashMap<String, String>> PAYLOAD =
      new TypeReference<>() {};
  private static final int MAX_ERROR_LENGTH = 2000;

  private final Jdbi jdbi;
  private final Clock clock;
  private final OutboxListener listener;
  private final AppendClaimers claimers = new AppendClaimers();
  private final long claimLock;
  private final String schema;

  PgOutbox(Jdbi jdbi, Clock clock, OutboxListener listener, String schema) {
    this.jdbi = jdbi;
    this.clock = clock;
    this.listener = listener;
    this.schema = schema;
    this.claimLock = claimLockKey(schema);
  }

  /**
   * How long this store's claims find the claim lock busy on every try before they claim without
   * it: far above a claim's few statements.
   */
  static final Duration CLAIM_LOCK_WAIT = Duration.ofSeconds(1);

  /**
   * When (System.nanoTime) this store's claims began to find the claim lock busy on every try; 0
   * while the last try took it; -1 once they claim without it (until a try takes it again).
   */
  private volatile long claimLockBusySince;

  private boolean claimLockBusyTooLong() {
    long now = System.nanoTime();
    long since = claimLockBusySince;
    if (since == -1) {
      return true; // already claiming without it
    }
    if (since == 0) {
      claimLockBusySince = now == 0 || now == -1 ? 1 : now;
      return false;
    }
    return now - since > CLAIM_LOCK_WAIT.toNanos();
  }

  /**
   * The transaction-local setting that names, comma-separated, the sites whose events a claiming
   * append may claim (site ids hold no comma).
   */
  static final String CLAIMABLE = "durable_deploy.claimable_sites";

  /** The advisory lock every claim on the schema's outbox takes for its transaction. */
  static long claimLockKey(String schema) {
    return Sql.lockKey("outbox-claim", schema, "");
  }

  Instant now() {
    return clock.instant().truncatedTo(ChronoUnit.MICROS);
  }

  /**
   * Inserts events in the store's own transaction on {@code h}: they may be claimed for a local
   * relay ({@link #claimOnAppend}), which gets them when {@code h} commits.
   */
  List<Long> insert(Handle h, Instant now, List<NewEvent> events) {
    boolean own = h.isInTransaction();
    return insert(h, appending(now, events, own), own);
  }

  /**
   * Runs {@code append} on the caller's handle and in its transaction; with {@code afterCommit},
   * {@code h} is told when the transaction commits, and this process's relays are handed or woken
   * for the events then.
   */
  private List<Long> insert(Handle h, Append append, boolean afterCommit) {
    if (append.events.isEmpty()) {
      return List.of();
    }
    try {
      Pipeline pipeline = new Pipeline();
      if (afterCommit) {
        // The store's own transaction, ending after the append: planned once per connection.
        pipeline.add("SELECT " + PgMetadataStore.GENERIC_PLANS);
      }
      append
          .lockSites(pipeline)
          .add(append.sql(), append.parameters())
          .run(h.getConnection(), append::read);
    } catch (java.sql.SQLException e) {
      throw new org.jdbi.v3.core.statement.UnableToExecuteStatementException(e, null);
    }
    if (afterCommit) {
      h.afterCommit(append::committed);
    }
    return append.ids();
  }

  /**
   * An append of {@code events} as one statement, to run in a transaction (on a handle, or in a
   * unit of work's commit pipeline); with {@code claim}, its events are claimed for a relay of this
   * process with room, if there is one, and {@link Append#committed} hands them over.
   */
  Append appending(Instant now, List<NewEvent> events, boolean claim) {
    return new Append(now, events, claim ? claimers.pick() : null);
  }

  /**
   * One append: the INSERT claims the events for {@code claimer} (when not null) if their site has
   * no undelivered event, and notifies listeners unless every event was claimed so (no other relay
   * could claim those anyway). The count sees the table as the statement started, without the rows
   * it inserts: all of a site's events in the batch are claimed, or none. ORDER BY n draws the ids
   * in batch order.
   *
   * <p>Whether a site has undelivered events is a count of them in {@code
   * outbox_undelivered_by_site} (none, on the common path), whatever the planner knows of the
   * table. A NOT EXISTS was planned two ways that read every undelivered event of every site: the
   * generic plan, which does not know how many events the arrays hold, hashed them all (so
   * PostgreSQL planned the statement anew on every call), and with statistics the planner walked
   * {@code outbox_undelivered} in id order filtering on the site, hoping to stop early, which it
   * never does for a site with nothing undelivered (a {@code LIMIT 1} inside the count brings that
   * walk back). The count reads a backlogged site's every undelivered entry: about 0.3 ms more per
   * append with 10,000 behind it.
   */
  final class Append {
    private final Instant now;
    private final List<NewEvent> events;
    private final AppendClaimer claimer;
    private List<Inserted> rows = List.of();

    private Append(Instant now, List<NewEvent> events, AppendClaimer claimer) {
      this.now = now;
      this.events = List.copyOf(events);
      this.claimer = claimer;
    }

    boolean isEmpty() {
      return events.isEmpty();
    }

    /**
     * Adds to {@code p}, when the append claims, a statement of its own before the INSERT that
     * tries the metadata lock of each of its sites (the one a unit of work takes, and holds for its
     * own site already) and names the sites it got in {@value #CLAIMABLE} for this transaction;
     * only events of those sites may be claimed on append. So the INSERT, whose snapshot begins
     * after the lock, sees what an append of the same site that held the lock before committed: two
     * transactions appending to one site at the same time (two hosts' appends, or an append beside
     * a command) cannot both find the site empty and both claim it. A lock it did not get is not
     * waited for (a wait would deadlock two commands emitting to each other's sites, and hold a
     * standalone append for a command's length): that site's events are appended unclaimed, for an
     * ordinary claim.
     */
    Pipeline lockSites(Pipeline p) {
      if (claimer == null) {
        return p;
      }
      List<String> sites = events.stream().map(e -> e.site().value()).distinct().toList();
      p.add(
          "SELECT set_config('"
              + CLAIMABLE
              + "', coalesce(string_agg(site, ','), ''), true) FROM unnest(CAST(? AS text[]),"
              + " CAST(? AS bigint[])) AS u(site, key) WHERE pg_try_advisory_xact_lock(key)",
          sites.toArray(String[]::new),
          sites.stream().map(site -> Sql.lockKey("meta", schema, site)).toArray(Long[]::new));
      return p;
    }

    String sql() {
      return "WITH v AS (SELECT * FROM unnest(CAST(? AS text[]), CAST(? AS text[]),"
          + " CAST(? AS text[])) WITH ORDINALITY AS v(site, type, payload, n)),"
          + " c AS (SELECT CAST(? AS text) AS owner WHERE CAST(? AS text) IS NOT NULL),"
          + " ins AS (INSERT INTO "
          + schema
          + ".outbox (site, type, payload, created_at,"
          + " next_attempt_at, claimed_by, claim_expires_at, deliveries)"
          + " SELECT v.site, v.type, v.payload, CAST(? AS timestamptz),"
          + " CAST(? AS timestamptz), c.owner,"
          + " CASE WHEN c.owner IS NOT NULL THEN CAST(? AS timestamptz) END,"
          + " CASE WHEN c.owner IS NOT NULL THEN 1 ELSE 0 END"
          + " FROM v LEFT JOIN c ON v.site = ANY(string_to_array(current_setting('"
          + CLAIMABLE
          + "', true), ','))"
          + " AND (SELECT count(*) FROM "
          + schema
          + ".outbox b WHERE b.site = v.site AND b.delivered_at IS NULL) = 0"
          + " ORDER BY v.n RETURNING id, claimed_by IS NOT NULL AS claimed),"
          + " notified AS (SELECT pg_notify(?, '') FROM ins WHERE NOT claimed LIMIT 1)"
          + " SELECT id, claimed, (SELECT count(*) FROM notified) AS notified"
          + " FROM ins ORDER BY id";
    }

    Object[] parameters() {
      String owner = claimer == null ? null : claimer.owner();
      return new Object[] {
        events.stream().map(e -> e.site().value()).toArray(String[]::new),
        events.stream().map(NewEvent::type).toArray(String[]::new),
        events.stream().map(e -> json(e.payload())).toArray(String[]::new),
        owner,
        owner,
        Sql.ts(now),
        Sql.ts(now),
        claimer == null ? null : Sql.ts(now.plus(claimer.leaseTtl())),
        listener.channel()
      };
    }

    /**
     * Reads the statement's rows from one of its pipeline's result sets; any other (a guard of
     * another statement) is left alone.
     */
    void read(java.sql.ResultSet rs) throws java.sql.SQLException {
      java.sql.ResultSetMetaData meta = rs.getMetaData();
      if (meta.getColumnCount() != 3 || !"claimed".equals(meta.getColumnLabel(2))) {
        return;
      }
      List<Inserted> read = new ArrayList<>(events.size());
      while (rs.next()) {
        read.add(new Inserted(rs.getLong("id"), rs.getBoolean("claimed")));
      }
      rows = read;
    }

    List<Long> ids() {
      return rows.stream().map(Inserted::id).toList();
    }

    /**
     * Right after the appending transaction committed: the local relay gets what was claimed for
     * it, and is woken for the rest now rather than by the NOTIFY's round trip.
     */
    void committed() {
      List<OutboxEvent> claimed = new ArrayList<>();
      boolean unclaimed = false;
      for (int i = 0; i < rows.size(); i++) {
        Inserted row = rows.get(i);
        if (row.claimed()) {
          NewEvent e = events.get(i);
          claimed.add(
              new OutboxEvent(
                  row.id(),
                  e.site(),
                  e.type(),
                  e.payload(),
                  now.truncatedTo(ChronoUnit.MICROS),
                  1,
                  null,
                  0));
        } else {
          unclaimed = true;
        }
      }
      afterCommit(claimer, now, claimed, unclaimed);
    }
  }

  private record Inserted(long id, boolean claimed) {}

  /**
   * Right after the appending transaction committed: the local relay gets what was claimed for it,
   * and is woken for the rest now rather than by the NOTIFY's round trip.
   */
  private void afterCommit(
      AppendClaimer claimer, Instant now, List<OutboxEvent> claimed, boolean wakeLocal) {
    try {
      if (!claimed.isEmpty()) {
        Duration age = Duration.between(now, clock.instant());
        claimer.claimed(age.isNegative() ? Duration.ZERO : age, List.copyOf(claimed));
      }
    } catch (RuntimeException e) {
      // The commit stands; the events come back to a claimer when their lease expires (E4).
      LOG.warn("the local relay refused events claimed for it on append", e);
    }
    if (wakeLocal) {
      listener.wakeLocal();
    }
  }

  private static String json(Map<String, String> payload) {
    try {
      return JSON.writeValueAsString(payload);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("a string map always serialises", e);
    }
  }

  private static Map<String, String> payload(String json) {
    try {
      return JSON.readValue(json, PAYLOAD);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(
          "an outbox payload is not JSON: " + e.getOriginalMessage(), e);
    }
  }

  @Override
  public long append(NewEvent event) {
    return Sql.call(
        "outbox append", () -> jdbi.inTransaction(h -> insert(h, now(), List.of(event)).get(0)));
  }

  /** Appends on the host's own JDBC connection, inside its transaction. */
  long append(java.sql.Connection connection, String schema, NewEvent event) {
    Instant now = now();
    try (java.sql.PreparedStatement insert =
            connection.prepareStatement(
                "INSERT INTO "
                    + schema
                    + ".outbox (site, type, payload, created_at, next_attempt_at)"
                    + " VALUES (?, ?, ?, ?, ?) RETURNING id");
        java.sql.PreparedStatement notify =
            connection.prepareStatement("SELECT pg_notify(?, '')")) {
      insert.setString(1, event.site().value());
      insert.setString(2, event.type());
      insert.setString(3, json(event.payload()));
      insert.setObject(4, Sql.ts(now));
      insert.setObject(5, Sql.ts(now));
      long id;
      try (java.sql.ResultSet rs = insert.executeQuery()) {
        rs.next();
        id = rs.getLong(1);
      }
      notify.setString(1, listener.channel());
      notify.execute();
      return id;
    } catch (java.sql.SQLException e) {
      throw Sql.translate("outbox append in the host's transaction", e);
    }
  }

  /**
   * Appends on the host's own handle, inside its transaction. Nothing is claimed on append: the
   * store cannot rely on being told when the host commits.
   */
  long append(Handle h, NewEvent event) {
    return insert(h, appending(now(), List.of(event), false), false).get(0);
  }

  private record Candidate(long id, SiteId site, Instant nextAttemptAt) {}

  /**
   * The claim's scan: the oldest undelivered rows of sites with no live claim and no event waiting
   * for its next attempt, locked. The blocked sites are a {@code NOT IN} list, which PostgreSQL
   * always runs as one hashed pass over them, so the scan walks the id index once and stops at the
   * window. A correlated {@code NOT EXISTS} lets the planner pick a nested-loop anti join instead
   * once the table has statistics: with every site of a 10,000-event backlog claimed it compared
   * each row with every claimed one (about 250 ms a claim), the drain's largest cost.
   */
  static final String CLAIM_SCAN =
      "SELECT id, site, next_attempt_at FROM <schema>.outbox WHERE delivered_at IS NULL"
          + " AND site NOT IN (SELECT site FROM <schema>.outbox WHERE delivered_at IS NULL"
          + "   AND (next_attempt_at > :now"
          + "   OR (claimed_by IS NOT NULL AND claim_expires_at > :now)))"
          + " ORDER BY id LIMIT :window FOR UPDATE SKIP LOCKED";

  @Override
  public List<OutboxEvent> claim(String owner, int maxEvents, Duration leaseTtl) {
    Inputs.requireText("owner", owner, 200);
    Inputs.requireRange("maxEvents", maxEvents, 1, 10_000);
    Inputs.requirePositive("leaseTtl", leaseTtl);
    // Claims run one at a time (see claimIn), so the first window's rows are claimable but for a
    // rare row another statement holds; widen only when a full window held nothing claimable.
    for (int window : new int[] {maxEvents, Math.max(5_000, maxEvents * 64)}) {
      ClaimResult result =
          Sql.call(
              "outbox claim",
              () -> jdbi.inTransaction(h -> claimIn(h, owner, maxEvents, leaseTtl, window)));
      if (!result.events.isEmpty() || !result.windowWasFull) {
        return result.events;
      }
    }
    return List.of();
  }

  private record ClaimResult(List<OutboxEvent> events, boolean windowWasFull) {}

  private ClaimResult claimIn(Handle h, String owner, int maxEvents, Duration ttl, int window) {
    // Lock: the schema's claim lock, for this transaction. It serialises claimers (relays in any
    // number of hosts) so that none locks rows of a site another one is claiming: such a row
    // breaks the site's run for both (the gap rule below), and under contention each claimer's
    // window then held little it could use and the widened retry locked thousands of rows, which
    // broke the others' runs in turn. A claim is a few statements; dispatching stays parallel.
    // Taken in a statement of its own, so the scan's snapshot sees the claim committed before.
    // Tried, not waited for: the holder takes every claimable site up to its batch, so a claimer
    // queued behind it mostly found nothing and only lengthened the one-at-a-time section (with 3
    // hosts draining one backlog, a backend waited on this lock in 80% of samples and a third of
    // the claims came back empty). A busy lock returns an empty claim at once instead, and holds
    // no connection of the pool while it waits.
    boolean held =
        h.createQuery("SELECT pg_try_advisory_xact_lock(:key)")
            .bind("key", claimLock)
            .mapTo(Boolean.class)
            .one();
    if (held) {
      if (claimLockBusySince == -1) {
        LOG.info("the outbox claim lock is free again; claims take turns under it");
      }
      claimLockBusySince = 0;
    } else if (!claimLockBusyTooLong()) {
      return new ClaimResult(List.of(), false);
    } else {
      // Busy on every try for over CLAIM_LOCK_WAIT: a claimer stalled inside its claim (its host
      // paused, its network half open) must not stop every claim of every host. The claim runs
      // unserialised, as claims did before the lock: the gap rule alone keeps per-site order,
      // the lock only spares claimers each other's row locks.
      if (claimLockBusySince != -1) { // once per stall, not once per claim
        claimLockBusySince = -1;
        LOG.warn(
            "the outbox claim lock was busy on every try for over {} ms (a claimer stalled?);"
                + " claiming without it until it is free",
            CLAIM_LOCK_WAIT.toMillis());
      }
    }
    Instant now = now();
    // Sites with a live claim or a not-yet-due event are skipped in the scan itself, so a large
    // blocked backlog can never fill the window and starve the sites behind it.
    List<Candidate> locked =
        h.createQuery(CLAIM_SCAN)
            .bind("window", window)
            .bind("now", Sql.ts(now))
            .map(
                (rs, ctx) ->
                    new Candidate(
                        rs.getLong("id"),
                        SiteId.of(rs.getString("site")),
                        Sql.instant(rs, "next_attempt_at")))
            .list();
    if (locked.isEmpty()) {
      return new ClaimResult(List.of(), false);
    }
    List<String> sites = locked.stream().map(c -> c.site().value()).distinct().toList();
    long maxLocked = locked.get(locked.size() - 1).id();
    Set<String> blocked =
        new HashSet<>(
            h.createQuery(
                    "SELECT DISTINCT site FROM <schema>.outbox WHERE delivered_at IS NULL"
                        + " AND site = ANY(:sites) AND claimed_by IS NOT NULL AND claim_expires_at > :now")
                .bindArray("sites", String.class, sites)
                .bind("now", Sql.ts(now))
                .mapTo(String.class)
                .list());
    // Every undelivered event of those sites up to our last locked row, in id order: a site's run
    // may only continue while each next event is one we locked (no gap held by another claimer).
    List<Candidate> pending =
        h.createQuery(
                "SELECT id, site, next_attempt_at FROM <schema>.outbox WHERE delivered_at IS NULL"
                    + " AND site = ANY(:sites) AND id <= :max ORDER BY id")
            .bindArray("sites", String.class, sites)
            .bind("max", maxLocked)
            .map(
                (rs, ctx) ->
                    new Candidate(
                        rs.getLong("id"),
                        SiteId.of(rs.getString("site")),
                        Sql.instant(rs, "next_attempt_at")))
            .list();
    Set<Long> lockedIds = new HashSet<>();
    locked.forEach(c -> lockedIds.add(c.id()));
    List<Long> chosen = new ArrayList<>();
    for (Candidate c : pending) {
      if (chosen.size() == maxEvents) {
        break;
      }
      String site = c.site().value();
      if (blocked.contains(site)) {
        continue;
      }
      if (!lockedIds.contains(c.id()) || c.nextAttemptAt().isAfter(now)) {
        // Held by a concurrent claimer, or not due: it and everything after it in its site wait.
        blocked.add(site);
        continue;
      }
      chosen.add(c.id());
    }
    if (chosen.isEmpty()) {
      return new ClaimResult(List.of(), locked.size() == window);
    }
    List<OutboxEvent> events =
        h.createQuery(
                "UPDATE <schema>.outbox SET claimed_by = :owner, claim_expires_at = :expires,"
                    + " deliveries = deliveries + 1 WHERE id = ANY(:ids) RETURNING *")
            .bind("owner", owner)
            .bind("expires", Sql.ts(now.plus(ttl)))
            .bindArray("ids", Long.class, chosen)
            .map((rs, ctx) -> event(rs))
            .list();
    List<OutboxEvent> sorted = new ArrayList<>(events);
    sorted.sort((a, b) -> Long.compare(a.id(), b.id()));
    return new ClaimResult(sorted, locked.size() == window);
  }

  private static OutboxEvent event(java.sql.ResultSet rs) throws java.sql.SQLException {
    return new OutboxEvent(
        rs.getLong("id"),
        SiteId.of(rs.getString("site")),
        rs.getString("type"),
        payload(rs.getString("payload")),
        Sql.instant(rs, "created_at"),
        rs.getInt("deliveries"),
        rs.getString("last_error"),
        rs.getInt("failures"));
  }

  private static String truncate(String error) {
    String text = Sql.clean(error == null ? "" : error);
    return text.length() <= MAX_ERROR_LENGTH ? text : text.substring(0, MAX_ERROR_LENGTH);
  }

  @Override
  public int ack(String owner, Collection<Long> ids) {
    Inputs.requireText("owner", owner, 200);
    if (ids.isEmpty()) {
      return 0;
    }
    return Sql.call(
        "outbox ack",
        () ->
            jdbi.withHandle(
                h ->
                    h.createUpdate(
                            "UPDATE <schema>.outbox SET delivered_at = :now, claimed_by = NULL,"
                                + " claim_expires_at = NULL WHERE id = ANY(:ids) AND delivered_at IS NULL")
                        .bind("now", Sql.ts(now()))
                        .bindArray("ids", Long.class, List.copyOf(ids))
                        .execute()));
  }

  @Override
  public boolean fail(String owner, long id, String error, Instant nextAttemptAt) {
    Inputs.requireText("owner", owner, 200);
    String truncated = truncate(error);
    return Sql.call(
        "outbox fail",
        () ->
            jdbi.withHandle(
                    h ->
                        h.createUpdate(
                                "UPDATE <schema>.outbox SET claimed_by = NULL, claim_expires_at = NULL,"
                                    + " last_error = :error, next_attempt_at = :next, failures = failures + 1"
                                    + " WHERE id = :id AND claimed_by = :owner AND delivered_at IS NULL")
                            .bind("error", truncated)
                            .bind("next", Sql.ts(nextAttemptAt.truncatedTo(ChronoUnit.MICROS)))
                            .bind("id", id)
                            .bind("owner", owner)
                            .execute())
                == 1);
  }

  /**
   * A dead letter is settled like a delivered event ({@code delivered_at} set), so every scan of
   * undelivered rows and their partial indexes skip it without a predicate of their own; {@code
   * dead_lettered_at} tells it apart, and the purge of delivered rows leaves it alone.
   */
  @Override
  public boolean deadLetter(String owner, long id, String error) {
    Inputs.requireText("owner", owner, 200);
    String truncated = truncate(error);
    Instant now = now();
    return Sql.call(
        "outbox dead letter",
        () ->
            jdbi.withHandle(
                    h ->
                        h.createUpdate(
                                "UPDATE <schema>.outbox SET claimed_by = NULL, claim_expires_at = NULL,"
                                    + " last_error = :error, failures = failures + 1,"
                                    + " delivered_at = :now, dead_lettered_at = :now"
                                    + " WHERE id = :id AND claimed_by = :owner AND delivered_at IS NULL")
                            .bind("error", truncated)
                            .bind("now", Sql.ts(now))
                            .bind("id", id)
                            .bind("owner", owner)
                            .execute())
                == 1);
  }

  @Override
  public List<OutboxDeadLetter> deadLetters(int limit) {
    Inputs.requireRange("limit", limit, 1, 10_000);
    return Sql.call(
        "outbox list dead letters",
        () ->
            jdbi.withHandle(
                h ->
                    h.createQuery(
                            "SELECT * FROM <schema>.outbox WHERE dead_lettered_at IS NOT NULL"
                                + " ORDER BY id LIMIT :limit")
                        .bind("limit", limit)
                        .map(
                            (rs, ctx) ->
                                new OutboxDeadLetter(
                                    event(rs), Sql.instant(rs, "dead_lettered_at")))
                        .list()));
  }

  @Override
  public boolean retryDeadLetter(long id) {
    return Sql.call(
        "outbox retry dead letter",
        () ->
            jdbi.inTransaction(
                h -> {
                  int changed =
                      h.createUpdate(
                              "UPDATE <schema>.outbox SET delivered_at = NULL, dead_lettered_at = NULL,"
                                  + " failures = 0, next_attempt_at = :now"
                                  + " WHERE id = :id AND dead_lettered_at IS NOT NULL")
                          .bind("now", Sql.ts(now()))
                          .bind("id", id)
                          .execute();
                  if (changed == 1) {
                    h.createQuery("SELECT pg_notify(:channel, '')")
                        .bind("channel", listener.channel())
                        .mapTo(String.class)
                        .one();
                  }
                  return changed == 1;
                }));
  }

  @Override
  public boolean discardDeadLetter(long id) {
    return Sql.call(
        "outbox discard dead letter",
        () ->
            jdbi.withHandle(
                    h ->
                        h.createUpdate(
                                "DELETE FROM <schema>.outbox WHERE id = :id AND dead_lettered_at IS NOT NULL")
                            .bind("id", id)
                            .execute())
                == 1);
  }

  @Override
  public int release(String owner, Collection<Long> ids) {
    Inputs.requireText("owner", owner, 200);
    if (ids.isEmpty()) {
      return 0;
    }
    return Sql.call(
        "outbox release",
        () ->
            jdbi.withHandle(
                h ->
                    h.createUpdate(
                            "UPDATE <schema>.outbox SET claimed_by = NULL, claim_expires_at = NULL"
                                + " WHERE id = ANY(:ids) AND claimed_by = :owner AND delivered_at IS NULL")
                        .bindArray("ids", Long.class, List.copyOf(ids))
                        .bind("owner", owner)
                        .execute()));
  }

  @Override
  public int renew(String owner, Collection<Long> ids, Duration leaseTtl) {
    Inputs.requireText("owner", owner, 200);
    Inputs.requirePositive("leaseTtl", leaseTtl);
    if (ids.isEmpty()) {
      return 0;
    }
    Instant now = now();
    return Sql.call(
        "outbox renew",
        () ->
            jdbi.withHandle(
                h ->
                    h.createUpdate(
                            "UPDATE <schema>.outbox SET claim_expires_at = :expires"
                                + " WHERE id = ANY(:ids) AND claimed_by = :owner"
                                + " AND claim_expires_at > :now AND delivered_at IS NULL")
                        .bindArray("ids", Long.class, List.copyOf(ids))
                        .bind("owner", owner)
                        .bind("now", Sql.ts(now))
                        .bind("expires", Sql.ts(now.plus(leaseTtl)))
                        .execute()));
  }

  @Override
  public int purgeDelivered(Instant cutoff, int limit) {
    Inputs.requireRange("limit", limit, 1, 1_000_000);
    return Sql.call(
        "outbox purge",
        () ->
            jdbi.withHandle(
                h ->
                    h.createUpdate(
                            "DELETE FROM <schema>.outbox WHERE id IN (SELECT id FROM <schema>.outbox"
                                + " WHERE delivered_at IS NOT NULL AND delivered_at < :cutoff"
                                + " AND dead_lettered_at IS NULL"
                                + " ORDER BY delivered_at LIMIT :limit)")
                        .bind("cutoff", Sql.ts(cutoff))
                        .bind("limit", limit)
                        .execute()));
  }

  @Override
  public OutboxStats stats() {
    Instant now = now();
    return Sql.call(
        "outbox stats",
        () ->
            jdbi.withHandle(
                h ->
                    h.createQuery(
                            "SELECT count(*) AS undelivered,"
                                + " count(*) FILTER (WHERE claimed_by IS NOT NULL AND claim_expires_at > :now) AS claimed,"
                                + " min(created_at) AS oldest,"
                                + " (SELECT count(*) FROM <schema>.outbox WHERE dead_lettered_at IS NOT NULL) AS dead"
                                + " FROM <schema>.outbox WHERE delivered_at IS NULL")
                        .bind("now", Sql.ts(now))
                        .map(
                            (rs, ctx) ->
                                new OutboxStats(
                                    rs.getLong("undelivered"),
                                    rs.getLong("claimed"),
                                    Sql.instant(rs, "oldest"),
                                    rs.getLong("dead")))
                        .one()));
  }

  @Override
  public Optional<Subscription> onAppend(Runnable wakeUp) {
    return Optional.of(listener.subscribe(wakeUp));
  }

  @Override
  public Optional<Subscription> claimOnAppend(AppendClaimer claimer) {
    return Optional.of(claimers.add(claimer));
  }
}
