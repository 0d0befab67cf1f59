package dev.durabledeploy.testkit;

import dev.durabledeploy.spi.events.EventBus;
import dev.durabledeploy.spi.events.EventListener;
import dev.durabledeploy.spi.events.LifecycleEvent;
import dev.durabledeploy.spi.events.Subscription;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Predicate;

/**
 * An event bus for tests of components that publish lifecycle events: it records every event and
 * delivers synchronously, isolating listeners that throw (their failures are counted). It is not
 * immune to slow listeners; production code uses the core's asynchronous bus.
 */
public final class RecordingEventBus implements EventBus {

  private record Registration(Predicate<? super LifecycleEvent> filter, EventListener listener) {}

  private final List<LifecycleEvent> events = new CopyOnWriteArrayList<>();
  private final List<Registration> registrations = new CopyOnWriteArrayList<>();
  private final Map<String, LifecycleEvent> latest = new ConcurrentHashMap<>();
  private final List<Throwable> listenerFailures = new CopyOnWriteArrayList<>();

  @Override
  public void publish(LifecycleEvent event) {
    events.add(event);
    latest.put(event.subject(), event);
    for (Registration r : registrations) {
      if (r.filter().test(event)) {
        try {
          r.listener().onEvent(event);
        } catch (RuntimeException | Error e) {
          listenerFailures.add(e);
        }
      }
    }
  }

  @Override
  public Subscription subscribe(Predicate<? super LifecycleEvent> filter, EventListener listener) {
    Registration r = new Registration(filter, listener);
    registrations.add(r);
    return () -> registrations.remove(r);
  }

  @Override
  public Optional<LifecycleEvent> latest(String subject) {
    return Optional.ofNullable(latest.get(subject));
  }

  /** Every event published so far, in order. */
  public List<LifecycleEvent> events() {
    return new ArrayList<>(events);
  }

  /** The published events of one type, in order. */
  public <T extends LifecycleEvent> List<T> events(Class<T> type) {
    return events.stream().filter(type::isInstance).map(type::cast).toList();
  }

  /** What listeners threw. */
  public List<Throwable> listenerFailures() {
    return new ArrayList<>(listenerFailures);
  }
}
