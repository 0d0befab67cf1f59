package dev.durabledeploy.benchmarks;

import dev.durabledeploy.core.outbox.OutboxRelay;
import dev.durabledeploy.engine.executor.ExecutorEngine;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.engine.WorkflowDefinition;
import dev.durabledeploy.spi.outbox.NewEvent;
import dev.durabledeploy.store.postgres.PostgresStore;
import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * Several hosts draining one backlog: {@value #EVENTS} events over {@value #SITES} sites committed
 * while no relay runs, then drained by 1 and by 3 host processes (child JVMs on the benchmark's
 * classpath, each a relay on its own {@link PostgresStore} over the same durable server). Each
 * host's handler records (event id, site, per-site sequence, host, time); from the records the
 * section checks that within a site first deliveries follow commit order and counts events
 * delivered more than once. Wall time runs from telling the ready hosts to start until the outbox
 * holds no undelivered event. Goal: 3 hosts no slower than 1 (no collapse under claim contention).
 */
final class MultiHostDrainHarness {

  static final int EVENTS = 10_000;
  static final int SITES = 200;
  private static final int[] HOSTS = {1, 3};
  private static final String TYPE = "bench.host-event";
  private static final Duration TIMEOUT = Duration.ofSeconds(120);

  /** One drain: its wall time and what the records show. */
  record Result(
      int hosts,
      double seconds,
      int distinctDelivered,
      int redeliveries,
      int orderViolations,
      Map<Integer, Integer> perHost,
      Diagnostics diagnostics) {}

  /**
   * Where a drain's time went: each host's claims (calls, empty ones, events claimed, time inside
   * claim) and CPU, PostgreSQL's CPU, and pg_stat_activity sampled during the drain (backends of
   * the schema's hosts waiting on the claim's advisory lock, per sample).
   */
  record Diagnostics(
      List<String> hostClaims,
      List<Long> hostCpuMs,
      long postgresCpuMs,
      int samples,
      int advisoryWaitSamples,
      int maxAdvisoryWaiters) {
    @Override
    public String toString() {
      return String.format(
          Locale.ROOT,
          "claims per host %s; host cpu ms %s; postgres cpu ms %d; pg_stat_activity samples %d,"
              + " with a backend waiting on an advisory lock %d (max waiters %d)",
          hostClaims,
          hostCpuMs,
          postgresCpuMs,
          samples,
          advisoryWaitSamples,
          maxAdvisoryWaiters);
    }
  }

  private MultiHostDrainHarness() {}

  /** The section: 1 host, then 3, on fresh copies of the same backlog. */
  static List<Figure> section(Bench bench) throws Exception {
    Map<Integer, Result> results = new HashMap<>();
    for (int hosts : HOSTS) {
      results.put(hosts, drain(bench.postgres(), hosts));
    }
    Result one = results.get(1);
    Result three = results.get(3);
    List<Figure> rows = new ArrayList<>();
    String backlog =
        String.format(Locale.ROOT, "%,d-event backlog over %d sites drained by", EVENTS, SITES);
    rows.add(
        new Figure(
            backlog
                + " 3 host processes: wall time (every host warmed first on "
                + String.format(Locale.ROOT, "%,d", WARM_UP_EVENTS)
                + " events of its own schema)",
            three.seconds() * 1000,
            "ms",
            "1 host process, same backlog",
            one.seconds() * 1000,
            "<= 1x",
            three.seconds() <= one.seconds()));
    for (Result r : List.of(one, three)) {
      String label = backlog + " " + r.hosts() + " host process(es)";
      rows.add(
          new Figure(
              label + ": events delivered (distinct)",
              r.distinctDelivered(),
              "events",
              "committed",
              EVENTS,
              "= 1x",
              r.distinctDelivered() == EVENTS));
      rows.add(
          new Figure(
              label + ": per-site order violations (first deliveries out of commit order)",
              r.orderViolations(),
              "events",
              "-",
              Double.NaN,
              "0",
              r.orderViolations() == 0));
      rows.add(
          Figure.reported(
              label + ": redeliveries (events handled more than once), per host " + r.perHost(),
              r.redeliveries(),
              "events"));
      rows.add(
          Figure.reported(
              label + ": CPU of the host processes (" + r.diagnostics() + ")",
              r.diagnostics().hostCpuMs().stream().mapToLong(Long::longValue).sum(),
              "ms"));
    }
    return rows;
  }

  /** Commits the backlog into a schema of its own, drains it with {@code hosts} processes. */
  static Result drain(DurablePostgres pg, int hosts) throws Exception {
    String schema = "bench_hosts_" + hosts + "_" + Long.toHexString(System.nanoTime() & 0xffffff);
    try (PostgresStore store =
            PostgresStore.builder()
                .jdbcUrl(pg.url())
                .username(pg.user())
                .password(pg.password())
                .schema(schema)
                .migrateOnStart(true)
                .build();
        Connection c = pg.connect()) {
      commitBacklog(store, c);
      Path dir = Files.createTempDirectory("durable-bench-hosts");
      List<HostProcess> children = new ArrayList<>();
      try {
        for (int h = 0; h < hosts; h++) {
          children.add(HostProcess.start(pg, schema, h, dir.resolve("host-" + h + ".tsv")));
        }
        for (HostProcess child : children) {
          child.awaitLine("READY");
        }
        long pgPid = postmasterPid(c);
        List<Long> cpuBefore = new ArrayList<>();
        children.forEach(child -> cpuBefore.add(cpuMs(child.process.pid())));
        long pgBefore = treeCpuMs(pgPid);
        Sampler sampler = new Sampler(pg);
        sampler.start();
        long start = System.nanoTime();
        children.forEach(child -> child.send("GO"));
        awaitDrained(c, schema, start);
        double seconds = (System.nanoTime() - start) / 1e9;
        sampler.stop();
        List<Long> cpu = new ArrayList<>();
        for (int h = 0; h < hosts; h++) {
          cpu.add(cpuMs(children.get(h).process.pid()) - cpuBefore.get(h));
        }
        long pgCpu = treeCpuMs(pgPid) - pgBefore;
        children.forEach(child -> child.send("STOP"));
        List<Delivery> records = new ArrayList<>();
        List<String> claims = new ArrayList<>();
        for (HostProcess child : children) {
          child.awaitExit();
          records.addAll(Delivery.read(child.records));
          claims.add(child.stats);
        }
        Diagnostics diagnostics =
            new Diagnostics(
                claims, cpu, pgCpu, sampler.samples, sampler.waitSamples, sampler.maxWaiters);
        return check(hosts, seconds, records, diagnostics);
      } finally {
        children.forEach(HostProcess::kill);
        try (Statement s = c.createStatement()) {
          s.execute("DROP SCHEMA " + schema + " CASCADE");
        }
      }
    }
  }

  /** The backlog in transactions of 500 events, each site's events numbered in commit order. */
  static void commitBacklog(PostgresStore store, Connection c) throws Exception {
    c.setAutoCommit(false);
    int[] perSite = new int[SITES];
    for (int i = 0; i < EVENTS; i++) {
      int site = i % SITES;
      store.appendInTransaction(
          c,
          new NewEvent(
              SiteId.of("site-" + site),
              TYPE,
              Map.of("site", "site-" + site, "seq", Integer.toString(++perSite[site]))));
      if (i % 500 == 499) {
        c.commit();
      }
    }
    c.commit();
    c.setAutoCommit(true);
  }

  private static void awaitDrained(Connection c, String schema, long start) throws Exception {
    long deadline = start + TIMEOUT.toNanos();
    try (Statement s = c.createStatement()) {
      while (true) {
        try (ResultSet rs =
            s.executeQuery(
                "SELECT count(*) FROM " + schema + ".outbox WHERE delivered_at IS NULL")) {
          rs.next();
          if (rs.getLong(1) == 0) {
            return;
          }
        }
        if (System.nanoTime() > deadline) {
          throw new IllegalStateException("the hosts did not drain the backlog in " + TIMEOUT);
        }
        LockSupport.parkNanos(10_000_000);
      }
    }
  }

  /** What the records say: distinct events, redeliveries, first deliveries out of order. */
  private static Result check(
      int hosts, double seconds, List<Delivery> records, Diagnostics diagnostics) {
    // nanoTime is CLOCK_MONOTONIC on Linux, one clock for every process of the machine.
    records.sort((a, b) -> Long.compare(a.nanoTime(), b.nanoTime()));
    Set<Long> seen = new HashSet<>();
    Map<String, Integer> lastFirstSeq = new HashMap<>();
    Map<Integer, Integer> perHost = new java.util.TreeMap<>();
    int redeliveries = 0;
    int violations = 0;
    for (Delivery d : records) {
      perHost.merge(d.host(), 1, Integer::sum);
      if (!seen.add(d.eventId())) {
        redeliveries++;
        continue;
      }
      Integer last = lastFirstSeq.put(d.site(), d.seq());
      if (d.seq() != (last == null ? 1 : last + 1)) {
        violations++;
      }
    }
    return new Result(hosts, seconds, seen.size(), redeliveries, violations, perHost, diagnostics);
  }

  /** The embedded or external server's postmaster, if this machine runs it; else -1. */
  private static long postmasterPid(Connection c) {
    try (Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SHOW data_directory")) {
      rs.next();
      Path pid = Path.of(rs.getString(1), "postmaster.pid");
      return Long.parseLong(Files.readAllLines(pid).get(0).strip());
    } catch (Exception e) {
      return -1;
    }
  }

  /** utime + stime of a process from /proc, in ms (USER_HZ 100); 0 when unreadable. */
  static long cpuMs(long pid) {
    try {
      String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
      String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      return (Long.parseLong(f[11]) + Long.parseLong(f[12])) * 10;
    } catch (Exception e) {
      return 0;
    }
  }

  /** CPU of a process and its children (PostgreSQL's backends) now, in ms. */
  private static long treeCpuMs(long pid) {
    if (pid < 0) {
      return 0;
    }
    return ProcessHandle.of(pid)
        .map(p -> cpuMs(pid) + p.children().mapToLong(ch -> cpuMs(ch.pid())).sum())
        .orElse(0L);
  }

  /** Samples pg_stat_activity every 2 ms for backends waiting on an advisory lock. */
  private static final class Sampler {
    private final DurablePostgres pg;
    private volatile boolean running = true;
    private Thread thread;
    int samples;
    int waitSamples;
    int maxWaiters;

    Sampler(DurablePostgres pg) {
      this.pg = pg;
    }

    void start() {
      thread =
          new Thread(
              () -> {
                try (Connection c = pg.connect();
                    java.sql.PreparedStatement q =
                        c.prepareStatement(
                            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                                + " AND wait_event = 'advisory'")) {
                  while (running) {
                    try (ResultSet rs = q.executeQuery()) {
                      rs.next();
                      int waiting = rs.getInt(1);
                      samples++;
                      if (waiting > 0) {
                        waitSamples++;
                      }
                      maxWaiters = Math.max(maxWaiters, waiting);
                    }
                    LockSupport.parkNanos(2_000_000);
                  }
                } catch (java.sql.SQLException e) {
                  throw new IllegalStateException(e);
                }
              },
              "bench-hosts-sampler");
      thread.setDaemon(true);
      thread.start();
    }

    void stop() throws InterruptedException {
      running = false;
      thread.join();
    }
  }

  /** One handler call as a host recorded it. */
  record Delivery(long eventId, String site, int seq, int host, long nanoTime) {
    String line() {
      return eventId + "\t" + site + "\t" + seq + "\t" + host + "\t" + nanoTime;
    }

    static List<Delivery> read(Path file) throws IOException {
      List<Delivery> out = new ArrayList<>();
      for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
        String[] f = line.split("\t");
        out.add(
            new Delivery(
                Long.parseLong(f[0]),
                f[1],
                Integer.parseInt(f[2]),
                Integer.parseInt(f[3]),
                Long.parseLong(f[4])));
      }
      return out;
    }
  }

  /** A host child JVM and the line protocol on its stdin/stdout. */
  private static final class HostProcess {
    final Process process;
    final Path records;
    final Writer in;
    final Map<String, CountDownLatch> lines = new java.util.concurrent.ConcurrentHashMap<>();
    volatile String stats = "-";

    private HostProcess(Process process, Path records) {
      this.process = process;
      this.records = records;
      this.in = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
      Thread reader =
          new Thread(
              () -> {
                try (BufferedReader out =
                    new BufferedReader(
                        new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                  String line;
                  while ((line = out.readLine()) != null) {
                    if (line.startsWith("STATS ")) {
                      stats = line.substring(6).strip();
                      continue;
                    }
                    latch(line.strip()).countDown();
                  }
                } catch (IOException e) {
                  // The child is gone; awaitLine times out and says so.
                }
              },
              "bench-host-stdout");
      reader.setDaemon(true);
      reader.start();
    }

    static HostProcess start(DurablePostgres pg, String schema, int host, Path records)
        throws IOException {
      ProcessBuilder pb =
          new ProcessBuilder(
              Path.of(System.getProperty("java.home"), "bin", "java").toString(),
              "-Xmx256m",
              "-XX:+UseSerialGC",
              "-cp",
              System.getProperty("java.class.path"),
              MultiHostDrainHarness.class.getName(),
              pg.url(),
              pg.user(),
              pg.password(),
              schema,
              Integer.toString(host),
              records.toString());
      pb.redirectError(records.resolveSibling("host-" + host + ".log").toFile());
      return new HostProcess(pb.start(), records);
    }

    private CountDownLatch latch(String line) {
      return lines.computeIfAbsent(line, l -> new CountDownLatch(1));
    }

    void awaitLine(String line) throws InterruptedException {
      if (!latch(line).await(TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
        throw new IllegalStateException(
            "a host process did not say " + line + "; see " + records.resolveSibling("*.log"));
      }
    }

    void send(String line) {
      try {
        in.write(line + "\n");
        in.flush();
      } catch (IOException e) {
        throw new java.io.UncheckedIOException("a host process stopped listening", e);
      }
    }

    void awaitExit() throws InterruptedException {
      if (!process.waitFor(TIMEOUT.toSeconds(), TimeUnit.SECONDS) || process.exitValue() != 0) {
        throw new IllegalStateException("a host process did not finish cleanly");
      }
    }

    void kill() {
      process.destroyForcibly();
    }
  }

  /**
   * One host: a relay on its own store over the given schema, routing to a handler that records
   * each delivery. Says READY once built, starts the relay on GO, stops on STOP, then writes its
   * records and exits.
   */
  public static void main(String[] args) throws Exception {
    String url = args[0];
    String schema = args[3];
    int host = Integer.parseInt(args[4]);
    Path records = Path.of(args[5]);
    ConcurrentLinkedQueue<Delivery> delivered = new ConcurrentLinkedQueue<>();
    BufferedReader control =
        new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    warmUp(url, args[1], args[2], schema + "_warm_" + host, host);
    try (PostgresStore store = store(url, args[1], args[2], schema, false)) {
      ExecutorEngine engine = recordingEngine(delivered, host);
      ClaimCounter counter = new ClaimCounter();
      OutboxRelay relay = relay(counter.wrap(store.outbox()), engine, host);
      System.out.println("READY");
      System.out.flush();
      awaitCommand(control, "GO");
      relay.start();
      awaitCommand(control, "STOP");
      relay.stop(Duration.ofSeconds(10));
      engine.stop(Duration.ofSeconds(10));
      System.out.println("STATS " + counter);
    }
    try (BufferedWriter out = Files.newBufferedWriter(records, StandardCharsets.UTF_8)) {
      for (Delivery d : delivered) {
        out.write(d.line());
        out.newLine();
      }
    }
    System.out.println("DONE");
    System.out.flush();
  }

  /** Events each host drains before it says READY, in a schema of its own. */
  static final int WARM_UP_EVENTS = 4_000;

  /**
   * Warms a host up the same way whether it is one of 1 or of 3: the same relay, engine and store
   * code drain {@value #WARM_UP_EVENTS} events of a schema of its own (nothing of the measured
   * backlog), so the timed drain measures hosts running, not three cold JVMs compiling the same
   * code on two cores.
   */
  private static void warmUp(String url, String user, String password, String schema, int host)
      throws Exception {
    try (PostgresStore store = store(url, user, password, schema, true);
        Connection c = java.sql.DriverManager.getConnection(url, user, password)) {
      c.setAutoCommit(false);
      for (int i = 0; i < WARM_UP_EVENTS; i++) {
        store.appendInTransaction(
            c,
            new NewEvent(
                SiteId.of("warm-" + (i % SITES)),
                TYPE,
                Map.of("site", "warm-" + (i % SITES), "seq", Integer.toString(i / SITES + 1))));
        if (i % 500 == 499) {
          c.commit();
        }
      }
      c.commit();
      ExecutorEngine engine = recordingEngine(new ConcurrentLinkedQueue<>(), host);
      OutboxRelay relay = relay(store.outbox(), engine, host);
      relay.start();
      long deadline = System.nanoTime() + TIMEOUT.toNanos();
      while (store.outbox().stats().undelivered() > 0 && System.nanoTime() < deadline) {
        LockSupport.parkNanos(20_000_000);
      }
      relay.stop(Duration.ofSeconds(10));
      engine.stop(Duration.ofSeconds(10));
      try (Statement s = c.createStatement()) {
        s.execute("DROP SCHEMA " + schema + " CASCADE");
      }
      c.commit();
    }
  }

  private static PostgresStore store(
      String url, String user, String password, String schema, boolean migrate) {
    return PostgresStore.builder()
        .jdbcUrl(url)
        .username(user)
        .password(password)
        .schema(schema)
        .migrateOnStart(migrate)
        .build();
  }

  private static ExecutorEngine recordingEngine(
      ConcurrentLinkedQueue<Delivery> delivered, int host) {
    ExecutorEngine engine = ExecutorEngine.builder().build();
    engine.register(
        WorkflowDefinition.named("record")
            .keyedBy("site")
            .handler(
                ctx ->
                    delivered.add(
                        new Delivery(
                            Long.parseLong(ctx.input().get(OutboxRelay.INPUT_EVENT_ID)),
                            ctx.input().get("site"),
                            Integer.parseInt(ctx.input().get("seq")),
                            host,
                            System.nanoTime()))));
    engine.start();
    return engine;
  }

  private static OutboxRelay relay(
      dev.durabledeploy.spi.outbox.Outbox outbox, ExecutorEngine engine, int host) {
    return OutboxRelay.builder(outbox, engine)
        .owner("bench-host-" + host + "-" + ProcessHandle.current().pid())
        .route(TYPE, "record")
        .pollInterval(Duration.ofMillis(100))
        .build();
  }

  /** Counts a host's claims: calls, empty ones, events, time inside claim. */
  private static final class ClaimCounter {
    final java.util.concurrent.atomic.AtomicInteger calls =
        new java.util.concurrent.atomic.AtomicInteger();
    final java.util.concurrent.atomic.AtomicInteger empty =
        new java.util.concurrent.atomic.AtomicInteger();
    final java.util.concurrent.atomic.AtomicInteger events =
        new java.util.concurrent.atomic.AtomicInteger();
    final java.util.concurrent.atomic.AtomicLong nanos =
        new java.util.concurrent.atomic.AtomicLong();

    dev.durabledeploy.spi.outbox.Outbox wrap(dev.durabledeploy.spi.outbox.Outbox outbox) {
      return (dev.durabledeploy.spi.outbox.Outbox)
          java.lang.reflect.Proxy.newProxyInstance(
              dev.durabledeploy.spi.outbox.Outbox.class.getClassLoader(),
              new Class<?>[] {dev.durabledeploy.spi.outbox.Outbox.class},
              (proxy, method, args) -> {
                long t0 = System.nanoTime();
                try {
                  Object r = method.invoke(outbox, args);
                  if (method.getName().equals("claim")) {
                    int n = ((List<?>) r).size();
                    calls.incrementAndGet();
                    events.addAndGet(n);
                    if (n == 0) {
                      empty.incrementAndGet();
                    }
                    nanos.addAndGet(System.nanoTime() - t0);
                  }
                  return r;
                } catch (java.lang.reflect.InvocationTargetException e) {
                  throw e.getCause();
                }
              });
    }

    @Override
    public String toString() {
      return String.format(
          Locale.ROOT,
          "claims=%d empty=%d events=%d perNonEmpty=%.1f claimMs=%d",
          calls.get(),
          empty.get(),
          events.get(),
          events.get() / (double) Math.max(1, calls.get() - empty.get()),
          nanos.get() / 1_000_000);
    }
  }

  private static void awaitCommand(BufferedReader control, String command) throws IOException {
    String line;
    while ((line = control.readLine()) != null) {
      if (line.strip().equals(command)) {
        return;
      }
    }
    throw new IllegalStateException("the benchmark closed the control stream before " + command);
  }
}
