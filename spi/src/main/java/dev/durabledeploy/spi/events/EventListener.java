package dev.durabledeploy.spi.events;

/** Receives lifecycle events. May throw; the bus isolates it. */
@FunctionalInterface
public interface EventListener {

  void onEvent(LifecycleEvent event);
}
