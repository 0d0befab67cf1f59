package dev.durabledeploy.store.postgres;

import dev.durabledeploy.spi.events.Subscription;
import dev.durabledeploy.spi.support.Threads;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code LISTEN} on the outbox channel over one dedicated connection, so relays wake up the moment
 * an event commits. Started by the first subscriber, it keeps that one connection until the store
 * closes: with a URL it is a connection of its own, outside the pool; on the host's {@code
 * DataSource} it is one of the host's (the connection budget counts it). A lost connection is
 * re-opened with a pause, and subscribers are woken once after each reconnect because notifications
 * sent meanwhile are lost: the relay then claims whatever is waiting. Notifications are hints;
 * polling stays. Before the connection goes back, {@code UNLISTEN *} clears it, so a host's pool
 * never gets a listening connection back.
 *
 * <p>The connection idles between notifications by design, so its session switches {@code
 * idle_session_timeout} off (a server that ends idle sessions would otherwise end it every few
 * seconds, and the relays would only poll) and puts the previous value back before the connection
 * goes back.
 */
final class OutboxListener implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(OutboxListener.class);
  private static final int POLL_MILLIS = 500;

  /** Where the listening connection comes from, and how it goes back. */
  @FunctionalInterface
  interface ConnectionSource {
    Connection open() throws SQLException;

    default void giveBack(Connection connection) throws SQLException {
      connection.close();
    }
  }

  private final ConnectionSource dataSource;
  private final String channel;
  private final List<Runnable> subscribers = new CopyOnWriteArrayList<>();
  private volatile boolean running;
  private Thread thread;

  OutboxListener(ConnectionSource dataSource, String channel) {
    this.dataSource = dataSource;
    this.channel = channel;
  }

  String channel() {
    return channel;
  }

  synchronized Subscription subscribe(Runnable wakeUp) {
    subscribers.add(wakeUp);
    if (thread == null) {
      running = true;
      thread = Threads.startDaemon("durable-outbox-listen-" + channel, this::listen);
    }
    return () -> subscribers.remove(wakeUp);
  }

  private void listen() {
    while (running) {
      try {
        Connection connection = dataSource.open();
        String idleTimeout = null;
        try (Statement statement = connection.createStatement()) {
          idleTimeout = Sql.suspendIdleSessionTimeout(connection);
          statement.execute("LISTEN \"" + channel + "\"");
          PGConnection pg = connection.unwrap(PGConnection.class);
          wakeAll(); // whatever committed while we were not listening
          while (running) {
            PGNotification[] notifications = pg.getNotifications(POLL_MILLIS);
            if (notifications != null && notifications.length > 0) {
              wakeAll();
            }
          }
        } finally {
          unlisten(connection, idleTimeout);
          dataSource.giveBack(connection);
        }
      } catch (SQLException | RuntimeException e) {
        if (running) {
          LOG.warn(
              "outbox LISTEN connection lost ({}); reconnecting, relays poll meanwhile",
              e.getMessage());
          try {
            Thread.sleep(1000);
          } catch (InterruptedException interrupted) {
            Thread.currentThread().interrupt();
            return;
          }
        }
      }
    }
  }

  /** Leaves nothing of ours on a connection that may go back to the host's pool. */
  private static void unlisten(Connection connection, String idleTimeout) {
    try (Statement statement = connection.createStatement()) {
      statement.execute("UNLISTEN *");
      Sql.restoreIdleSessionTimeout(connection, idleTimeout);
    } catch (SQLException e) {
      // A broken connection: the pool discards it, and the server ended its LISTEN with it.
      LOG.debug("UNLISTEN failed on a broken connection: {}", e.getMessage());
    }
  }

  /**
   * Wakes this process's subscribers at once, after a commit of this process: its relays need not
   * wait for the NOTIFY to come back from the server. Other processes still get the NOTIFY.
   */
  void wakeLocal() {
    wakeAll();
  }

  private void wakeAll() {
    for (Runnable subscriber : subscribers) {
      try {
        subscriber.run();
      } catch (RuntimeException e) {
        LOG.warn("an outbox append subscriber threw", e);
      }
    }
  }

  @Override
  public synchronized void close() {
    running = false;
    if (thread != null) {
      thread.interrupt();
      try {
        thread.join(5000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
