package dev.durabledeploy.store.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import dev.durabledeploy.spi.Store;
import dev.durabledeploy.spi.metadata.RowSelection;
import dev.durabledeploy.spi.metadata.Site;
import dev.durabledeploy.spi.metadata.SiteProfile;
import dev.durabledeploy.spi.metadata.SiteState;
import dev.durabledeploy.testkit.MutableClock;
import dev.durabledeploy.testkit.fixtures.PostgresExtension;
import dev.durabledeploy.testkit.tck.SiteRecordsContract;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class PgSiteRecordsTest extends SiteRecordsContract {
  @RegisterExtension static final PostgresExtension PG = new PostgresExtension();

  @Override
  protected Store createStore(MutableClock clock) {
    return PgStores.fresh(PG, clock);
  }

  /**
   * This store reads the record in the statement after the one that takes the site's lock: read in
   * the same statement, under READ COMMITTED, a work that waited for the lock would see the record
   * as it was before the holder committed, and its version bump would overwrite the holder's.
   */
  @Test
  @DisplayName("concurrent works that bump the record's version never lose one")
  void concurrentBumps() throws Exception {
    RowSelection none = RowSelection.of(List.of(), List.of());
    metadata.inSite(
        "register",
        SITE,
        none,
        s -> {
          s.putSite(
              new Site(
                  SITE,
                  SiteProfile.of("A", "team:a"),
                  SiteState.ACTIVE,
                  s.now(),
                  s.now(),
                  null,
                  1));
          return null;
        });
    int threads = 8;
    int bumps = 20;
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    CountDownLatch start = new CountDownLatch(1);
    try {
      List<Future<?>> futures = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        futures.add(
            pool.submit(
                () -> {
                  start.await();
                  for (int i = 0; i < bumps; i++) {
                    metadata.inSite(
                        "bump",
                        SITE,
                        none,
                        s -> {
                          Site r = s.site();
                          s.putSite(r.withProfile(r.profile(), s.now()));
                          return null;
                        });
                  }
                  return null;
                }));
      }
      start.countDown();
      for (Future<?> f : futures) {
        f.get(120, TimeUnit.SECONDS);
      }
    } finally {
      pool.shutdownNow();
    }
    assertThat(metadata.findSite(SITE).orElseThrow().version()).isEqualTo(1L + threads * bumps);
  }
}
