package dev.durabledeploy.store.valkey;

import dev.durabledeploy.spi.events.Subscription;
import dev.durabledeploy.spi.support.Threads;
import io.lettuce.core.Limit;
import io.lettuce.core.Range;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisException;
import io.lettuce.core.RedisURI;
import io.lettuce.core.StreamMessage;
import io.lettuce.core.XReadArgs;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/**
 * Wakes {@link ValkeyOutbox#onAppend} listeners: one daemon thread, on its own connection (a
 * blocking read would stall the shared one), reads the capped wake stream with {@code XREAD BLOCK}
 * from the last entry it saw, so appends made while it was between reads still wake it. Started by
 * the first subscriber. A wake-up is a hint: while the server is away the thread retries every
 * second and relays fall back to their polling.
 */
final class AppendWatcher implements AutoCloseable {

  private static final org.slf4j.Logger LOG =
      org.slf4j.LoggerFactory.getLogger(AppendWatcher.class);
  private static final long BLOCK_MILLIS = 1_000;

  private final RedisClient client;
  private final RedisURI uri;
  private final Valkey valkey;
  private final String stream;
  private final List<Runnable> listeners = new CopyOnWriteArrayList<>();
  private Thread thread;
  private volatile boolean closed;

  AppendWatcher(RedisClient client, RedisURI uri, Valkey valkey, String stream) {
    this.client = client;
    this.valkey = valkey;
    this.uri = uri;
    this.stream = stream;
  }

  synchronized Subscription subscribe(Runnable wakeUp) {
    Objects.requireNonNull(wakeUp, "wakeUp");
    if (closed) {
      throw new IllegalStateException("the Valkey store is closed");
    }
    listeners.add(wakeUp);
    if (thread == null) {
      // Where to read from is fixed before returning, so an append right after subscribing wakes.
      String start = newest();
      thread = Threads.startDaemon("valkey-outbox-wake", () -> run(start));
    }
    return () -> listeners.remove(wakeUp);
  }

  private String newest() {
    return valkey.call("reading the outbox wake stream", () -> newest(valkey.commands()));
  }

  private String newest(StatefulRedisConnection<String, String> connection) {
    return newest(connection.sync());
  }

  private String newest(RedisCommands<String, String> commands) {
    List<StreamMessage<String, String>> newest =
        commands.xrevrange(stream, Range.create("-", "+"), Limit.from(1));
    return newest.isEmpty() ? "0-0" : newest.get(0).getId();
  }

  private void run(String start) {
    String last = start;
    StatefulRedisConnection<String, String> connection = null;
    while (!closed) {
      try {
        if (connection == null) {
          connection = client.connect(uri);
          connection.setTimeout(java.time.Duration.ofMillis(BLOCK_MILLIS * 5));
        }
        if (last == null) {
          last = newest(connection);
        }
        List<StreamMessage<String, String>> read =
            connection
                .sync()
                .xread(
                    XReadArgs.Builder.block(BLOCK_MILLIS),
                    XReadArgs.StreamOffset.from(stream, last));
        if (read != null && !read.isEmpty()) {
          last = read.get(read.size() - 1).getId();
          for (Runnable listener : listeners) {
            try {
              listener.run();
            } catch (RuntimeException e) {
              LOG.warn("an outbox wake-up listener failed: {}", e.toString());
            }
          }
        }
      } catch (RedisException e) {
        if (closed) {
          break;
        }
        // A restarted server numbers its stream afresh: after trouble, start from its newest.
        last = null;
        LOG.debug("outbox wake-up read failed, retrying in 1 s: {}", Valkey.clean(e.getMessage()));
        pause();
      }
    }
    if (connection != null) {
      connection.close();
    }
  }

  private void pause() {
    try {
      TimeUnit.MILLISECONDS.sleep(BLOCK_MILLIS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      closed = true;
    }
  }

  @Override
  public void close() {
    Thread running;
    synchronized (this) {
      closed = true;
      running = thread;
    }
    if (running != null) {
      running.interrupt();
      try {
        running.join(BLOCK_MILLIS * 3);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
