package dev.durabledeploy.store.valkey;

import static org.assertj.core.api.Assertions.assertThat;

import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.metadata.MetadataStore;
import dev.durabledeploy.spi.metadata.RowSelection;
import dev.durabledeploy.spi.metadata.Site;
import dev.durabledeploy.spi.metadata.SiteProfile;
import dev.durabledeploy.spi.metadata.SiteState;
import dev.durabledeploy.testkit.MutableClock;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * A site that has only its registry record (no deploy, alias or tombstone) is still guarded by its
 * revision: the record is one of the site's rows, so the revision does not go while it stays.
 */
class ValkeySiteRecordRaceTest {

  private static final SiteId SITE = SiteId.of("site-a");
  private static final RowSelection NONE = RowSelection.of(List.of(), List.of());

  private final ValkeyStore store = ValkeyStores.fresh(new MutableClock());
  private final MetadataStore metadata = store.metadata();

  @AfterEach
  void close() {
    store.close();
  }

  /** The record with a new display name, one version on. */
  private static Site renamed(Site r) {
    return r.withProfile(SiteProfile.of("v" + (r.version() + 1), "team:web"), r.updatedAt());
  }

  @Test
  @DisplayName("two updates of a record-only site racing both land: the loser runs again")
  void recordOnlySiteKeepsItsRevision() throws Exception {
    metadata.inSite(
        "register",
        SITE,
        NONE,
        s -> {
          Site r =
              new Site(
                  SITE,
                  SiteProfile.of("v1", "team:web"),
                  SiteState.ACTIVE,
                  s.now(),
                  s.now(),
                  null,
                  1);
          s.putSite(r);
          return r;
        });
    CountDownLatch read = new CountDownLatch(1);
    CountDownLatch otherCommitted = new CountDownLatch(1);
    AtomicInteger runs = new AtomicInteger();
    CompletableFuture<Site> slow =
        CompletableFuture.supplyAsync(
            () ->
                metadata.inSite(
                    "slow",
                    SITE,
                    NONE,
                    s -> {
                      Site r = renamed(s.site());
                      if (runs.incrementAndGet() == 1) {
                        read.countDown();
                        await(otherCommitted);
                      }
                      s.putSite(r);
                      return r;
                    }));
    assertThat(read.await(10, TimeUnit.SECONDS)).isTrue();
    metadata.inSite(
        "fast",
        SITE,
        NONE,
        s -> {
          s.putSite(renamed(s.site()));
          return null;
        });
    otherCommitted.countDown();
    Site landed = slow.get(10, TimeUnit.SECONDS);

    assertThat(runs).hasValue(2);
    assertThat(landed.version()).isEqualTo(3);
    assertThat(metadata.findSite(SITE)).contains(landed);
  }

  private static void await(CountDownLatch latch) {
    try {
      if (!latch.await(10, TimeUnit.SECONDS)) {
        throw new IllegalStateException("the other unit of work did not commit in 10 s");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }
}
