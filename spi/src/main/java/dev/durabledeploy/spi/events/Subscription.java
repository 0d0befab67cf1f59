package dev.durabledeploy.spi.events;

/** A registration that ends when closed. Closing twice is a no-op. */
@FunctionalInterface
public interface Subscription extends AutoCloseable {

  @Override
  void close();
}
