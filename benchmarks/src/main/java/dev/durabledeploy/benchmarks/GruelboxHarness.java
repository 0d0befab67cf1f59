package dev.durabledeploy.benchmarks;

import com.gruelbox.transactionoutbox.Dialect;
import com.gruelbox.transactionoutbox.Instantiator;
import com.gruelbox.transactionoutbox.Persistor;
import com.gruelbox.transactionoutbox.ThreadLocalContextTransactionManager;
import com.gruelbox.transactionoutbox.TransactionManager;
import com.gruelbox.transactionoutbox.TransactionOutbox;
import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The peer baseline: the same {@link OutboxLoad} through gruelbox transaction-outbox 4.2 on the
 * same PostgreSQL. Configured the way its README suggests for a standalone service (its own
 * DataSource transaction manager, the PostgreSQL dialect, immediate post-commit submission), given
 * the same number of worker threads as {@code ExecutorEngine}'s default (max(4, 2 × cores)) and a
 * {@code flush()} every 100 ms for retries, as a host would run it. The work differs in one
 * respect: gruelbox 4.2 gives no per-site ordering; the relay does.
 */
final class GruelboxHarness implements AutoCloseable {

  /** The scheduled call. Public: gruelbox serialises it by interface and method name. */
  public interface Sink {
    void deliver(String site, long seq, long nanoTime);
  }

  private static final Duration ATTEMPT_FREQUENCY = Duration.ofSeconds(2);
  private static final int WORKERS = Math.max(4, 2 * Runtime.getRuntime().availableProcessors());

  private final HikariDataSource dataSource;
  private final ThreadLocalContextTransactionManager transactions;
  private final TransactionOutbox outbox;
  private final ExecutorService workers = Executors.newFixedThreadPool(WORKERS);
  private final ScheduledExecutorService flusher = Executors.newSingleThreadScheduledExecutor();
  private volatile boolean consuming;

  private GruelboxHarness(
      String jdbcUrl, String user, String password, int producers, OutboxLoad load) {
    HikariConfig config = new HikariConfig();
    config.setJdbcUrl(jdbcUrl);
    config.setUsername(user);
    config.setPassword(password);
    config.setMaximumPoolSize(producers + WORKERS + 2);
    config.setAutoCommit(false);
    dataSource = new HikariDataSource(config);
    transactions = TransactionManager.fromDataSource(dataSource);
    Sink sink = (site, seq, nanoTime) -> load.delivered(seq, nanoTime);
    outbox =
        TransactionOutbox.builder()
            .transactionManager(transactions)
            .persistor(Persistor.forDialect(Dialect.POSTGRESQL_9))
            .instantiator(Instantiator.using(type -> sink))
            // While the consumer is "off" (backlog drain), submissions are dropped: the entries
            // stay in the table for flush(), as after an outage.
            .submitter(
                (entry, process) -> {
                  if (consuming) {
                    workers.execute(() -> process.accept(entry));
                  }
                })
            .attemptFrequency(ATTEMPT_FREQUENCY)
            .build();
  }

  static OutboxLoad.Result run(
      String jdbcUrl, String user, String password, int producers, int eventsPerProducer)
      throws Exception {
    OutboxLoad load = new OutboxLoad();
    try (GruelboxHarness peer = new GruelboxHarness(jdbcUrl, user, password, producers, load)) {
      peer.consumerOn();
      return load.run(
          "gruelbox transaction-outbox 4.2", peer::commit, producers, eventsPerProducer);
    }
  }

  /**
   * Backlog drain: {@code events} committed with submission off, then flush() picks them up (the
   * only way gruelbox delivers entries that missed their post-commit submission).
   */
  static double drain(String jdbcUrl, String user, String password, int events) throws Exception {
    OutboxLoad load = new OutboxLoad();
    try (GruelboxHarness peer = new GruelboxHarness(jdbcUrl, user, password, 1, load)) {
      // Entries become due for flush() attemptFrequency after they were scheduled.
      return load.drain(
          "gruelbox backlog", peer::commit, ATTEMPT_FREQUENCY, peer::consumerOn, events);
    }
  }

  private void commit(String site, long seq, long nanoTime) {
    transactions.inTransaction(() -> outbox.schedule(Sink.class).deliver(site, seq, nanoTime));
  }

  private void consumerOn() {
    consuming = true;
    flusher.scheduleWithFixedDelay(
        () -> {
          while (outbox.flush()) {
            // flush() returns true while it found work: keep going, as a backlog needs
          }
        },
        0,
        100,
        TimeUnit.MILLISECONDS);
  }

  @Override
  public void close() throws InterruptedException {
    flusher.shutdownNow();
    workers.shutdownNow();
    flusher.awaitTermination(10, TimeUnit.SECONDS);
    workers.awaitTermination(10, TimeUnit.SECONDS);
    dataSource.close();
  }
}
