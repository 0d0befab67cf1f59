package dev.durabledeploy.store.valkey;

import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.exception.ConfigurationException;
import dev.durabledeploy.spi.exception.InvalidInputException;
import dev.durabledeploy.spi.exception.TransientStoreException;
import io.lettuce.core.RedisChannelHandler;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisConnectionStateListener;
import io.lettuce.core.RedisException;
import io.lettuce.core.RedisURI;
import io.lettuce.core.pubsub.RedisPubSubAdapter;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import java.net.SocketAddress;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * The change bus: {@code site.changed} on a pub/sub channel, so every host drops what it cached
 * about a site another host changed. Pub/sub keeps nothing for a subscriber that is away, so a
 * disconnection counts as "missed everything": {@link #isConnected()} turns false at once and
 * {@code onReset} listeners run on reconnect. Publishing is best effort: a lost message is bounded
 * by the caches' time to live.
 */
final class ChangeBus implements AutoCloseable {

  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(ChangeBus.class);

  private final Valkey valkey;
  private final String channel;
  private final StatefulRedisPubSubConnection<String, String> subscriber;
  private final List<Consumer<SiteId>> changeListeners = new CopyOnWriteArrayList<>();
  private final List<Runnable> resetListeners = new CopyOnWriteArrayList<>();
  private volatile boolean connected;

  ChangeBus(RedisClient client, RedisURI uri, Valkey valkey, String channel) {
    this.valkey = valkey;
    this.channel = channel;
    this.subscriber = valkey.call("connecting the change bus", () -> client.connectPubSub(uri));
    subscriber.addListener(
        new RedisPubSubAdapter<>() {
          @Override
          public void message(String from, String message) {
            if (channel.equals(from)) {
              received(message);
            }
          }
        });
    client.addListener(
        new RedisConnectionStateListener() {
          @Override
          public void onRedisDisconnected(RedisChannelHandler<?, ?> connection) {
            if (connection == subscriber) {
              connected = false;
              resetListeners.forEach(Runnable::run);
            }
          }

          @Override
          public void onRedisConnected(RedisChannelHandler<?, ?> connection, SocketAddress at) {
            if (connection == subscriber) {
              // Whatever was published while we were away is lost: start cold.
              resetListeners.forEach(Runnable::run);
              connected = true;
            }
          }
        });
    valkey.call(
        "subscribing to the change bus",
        () -> {
          subscriber.sync().subscribe(channel);
          return null;
        });
    connected = true;
  }

  void onChange(Consumer<SiteId> listener) {
    changeListeners.add(listener);
  }

  void onReset(Runnable listener) {
    resetListeners.add(listener);
  }

  boolean isConnected() {
    return connected && subscriber.isOpen();
  }

  /** Announces that {@code site} changed; never throws (see class comment). */
  void publish(SiteId site) {
    try {
      valkey.call(
          "publishing site.changed", () -> valkey.commands().publish(channel, site.value()));
    } catch (TransientStoreException | ConfigurationException | RedisException e) {
      LOG.warn(
          "site.changed for {} not published; other hosts' caches follow within their time to"
              + " live: {}",
          site,
          e.getMessage());
    }
  }

  private void received(String message) {
    SiteId site;
    try {
      site = SiteId.of(message);
    } catch (InvalidInputException e) {
      LOG.warn("ignoring a malformed site.changed message on {}", channel);
      return;
    }
    changeListeners.forEach(l -> l.accept(site));
  }

  @Override
  public void close() {
    subscriber.close();
  }
}
