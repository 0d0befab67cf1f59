package dev.durabledeploy.testkit.tck;

import dev.durabledeploy.spi.Actor;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.Store;
import dev.durabledeploy.spi.outbox.OutboxEvent;
import dev.durabledeploy.testkit.MutableClock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/**
 * What every store contract shares: a fresh store per test on a {@link MutableClock}, and helpers.
 * An adapter's test class extends a contract and implements {@link #createStore}.
 */
public abstract class StoreFixture {

  protected static final Actor ACTOR = Actor.of("user:tck");
  protected static final SiteId SITE = SiteId.of("site-a");
  protected static final SiteId OTHER_SITE = SiteId.of("site-b");

  protected final MutableClock clock = new MutableClock();
  protected Store store;

  /**
   * A store with no data, whose times come from {@code clock}. Called before every test; the
   * contract closes it after. Stores that share a server must isolate tests (fresh schema or
   * truncated tables).
   */
  protected abstract Store createStore(MutableClock clock);

  @BeforeEach
  void openStore() {
    store = createStore(clock);
  }

  @AfterEach
  void closeStore() {
    store.close();
  }

  /** The n-th distinct deploy id, with a sha derived from n. */
  protected static DeployId deployId(int n) {
    return DeployId.forSha(
        MutableClock.DEFAULT_START.plusSeconds(n), String.format(Locale.ROOT, "%07x", n) + "abc");
  }

  protected static String sha(int n) {
    return String.format(Locale.ROOT, "%07x", n) + "abc";
  }

  /** Claims and acknowledges every due event, returning them in id order. */
  protected List<OutboxEvent> drainEvents() {
    List<OutboxEvent> all = new ArrayList<>();
    while (true) {
      List<OutboxEvent> batch = store.outbox().claim("tck-drain", 1000, Duration.ofMinutes(5));
      if (batch.isEmpty()) {
        return all;
      }
      store.outbox().ack("tck-drain", batch.stream().map(OutboxEvent::id).toList());
      all.addAll(batch);
    }
  }

  /** The types of every due event, drained. */
  protected List<String> drainEventTypes() {
    return drainEvents().stream().map(OutboxEvent::type).toList();
  }
}
