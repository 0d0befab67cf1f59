package dev.durabledeploy.spi.events;

import java.util.Optional;
import java.util.function.Predicate;

/**
 * The in-process lifecycle bus hosts subscribe to. Progress is decoupled from whoever started the
 * work: a caller that goes away does not stop it, and a subscriber that arrives late asks {@link
 * #latest} for the current status.
 *
 * <p>Implementations must keep {@link #publish} non-blocking and immune to subscribers: a slow or
 * throwing listener never delays or breaks the publisher or other listeners.
 */
public interface EventBus {

  /** Delivers the event to every matching subscriber and records it as its subject's latest. */
  void publish(LifecycleEvent event);

  /**
   * Calls {@code listener} with every later event that {@code filter} accepts, in publish order per
   * subscriber. Close the subscription to unsubscribe.
   */
  Subscription subscribe(Predicate<? super LifecycleEvent> filter, EventListener listener);

  /** The latest event published for {@code subject}, e.g. an operation id or {@code repo:<id>}. */
  Optional<LifecycleEvent> latest(String subject);

  /** A filter accepting one topic ({@code operation}, {@code clone}, {@code sidecar}). */
  static Predicate<LifecycleEvent> topic(String topic) {
    return e -> e.topic().equals(topic);
  }

  /** A filter accepting one subject. */
  static Predicate<LifecycleEvent> subject(String subject) {
    return e -> e.subject().equals(subject);
  }
}
