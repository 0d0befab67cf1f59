package dev.durabledeploy.store.memory;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.durabledeploy.spi.Store;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.spi.metadata.DeployState;
import dev.durabledeploy.spi.metadata.RowSelection;
import dev.durabledeploy.spi.metadata.SiteRows;
import dev.durabledeploy.spi.outbox.NewEvent;
import dev.durabledeploy.testkit.MutableClock;
import dev.durabledeploy.testkit.tck.StoreFixture;
import java.io.IOException;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** Review of issue 23: units of work on the in-memory store, used as a host or adapter would. */
class InMemoryMetadataStoreBreaksTest extends StoreFixture {

  @Override
  protected Store createStore(MutableClock clock) {
    return new InMemoryStore(clock);
  }

  private Deploy deploy(int n) {
    return new Deploy(SITE, deployId(n), sha(n), DeployState.PENDING, clock.instant(), null, null);
  }

  @SuppressWarnings("unchecked")
  private static <E extends Throwable> RuntimeException sneaky(Throwable t) throws E {
    throw (E) t;
  }

  // BREAKS: a unit of work that throws a checked exception (sneaky throw, as Lombok's
  // @SneakyThrows, Kotlin or Groovy lambdas do) is not rolled back: inSite catches only
  // RuntimeException | Error, so the deploy it wrote stays in the maps (applied at once), while
  // its audit entry and outbox event are dropped. MetadataStore#inSite promises "none if it
  // throws". PostgreSQL (Jdbi rolls back on Throwable) and Valkey (nothing is sent) leave nothing.
  @Test
  void checkedExceptionFromWorkLeavesItsWritesBehind() {
    assertThatThrownBy(
            () ->
                store
                    .metadata()
                    .inSite(
                        "review.sneaky",
                        SITE,
                        RowSelection.WHOLE_SITE,
                        s -> {
                          s.putDeploy(deploy(1));
                          s.audit(ACTOR, "review.sneaky", "x", null, null);
                          s.emit(new NewEvent(SITE, "review.event", Map.of()));
                          throw sneaky(new IOException("disk full"));
                        }))
        .isInstanceOf(IOException.class);
    assertThat(store.metadata().findDeploy(SITE, deployId(1))).isEmpty();
    assertThat(store.metadata().listSites(null, 10)).isEmpty();
  }

  // BREAKS: a unit of work nested in another on the same site (the monitor is reentrant) sees the
  // outer work's uncommitted writes and commits on its own: when the outer work then throws, its
  // deploy is rolled back, but the inner work's audit entry and event, which describe that
  // deploy, stay. Neither refused nor documented; on PostgreSQL the same nesting joins the outer
  // transaction (Jdbi reuses the thread's handle) and rolls back with it, on Valkey the inner work
  // commits once per outer retry (see PgMetadataStoreBreaksTest, ValkeyMetadataStoreBreaksTest).
  @Test
  void nestedUnitOfWorkCommitsWhatTheOuterRollsBack() {
    assertThatThrownBy(
            () ->
                store
                    .metadata()
                    .inSite(
                        "review.outer",
                        SITE,
                        RowSelection.WHOLE_SITE,
                        outer -> {
                          outer.putDeploy(deploy(1));
                          store
                              .metadata()
                              .inSite(
                                  "review.inner",
                                  SITE,
                                  RowSelection.WHOLE_SITE,
                                  inner -> {
                                    Deploy seen = inner.deploy(deployId(1));
                                    inner.audit(
                                        ACTOR,
                                        "review.inner",
                                        seen == null ? "nothing" : seen.id().value(),
                                        null,
                                        null);
                                    return null;
                                  });
                          throw new IllegalStateException("outer fails");
                        }))
        .isInstanceOf(IllegalStateException.class);
    assertThat(store.metadata().findDeploy(SITE, deployId(1))).isEmpty();
    // Observed: one audit entry, target = deploy 1, a deploy that never existed.
    assertThat(store.metadata().auditLog(SITE, 10))
        .allSatisfy(e -> assertThat(e.target()).isNotEqualTo(deployId(1).value()));
  }

  // BREAKS: a query called from inside a unit of work (same thread) sees its uncommitted,
  // possibly-to-be-rolled-back writes; MetadataStore#inSite says "queries see either none or all
  // of its writes". PostgreSQL does the same (the query joins the work's transaction on the same
  // thread: PgMetadataStoreBreaksTest); on Valkey such a query sees none.
  @Test
  void queryInsideWorkSeesUncommittedWrites() {
    AtomicReference<Boolean> seen = new AtomicReference<>();
    assertThatThrownBy(
            () ->
                store
                    .metadata()
                    .inSite(
                        "review.peek",
                        SITE,
                        RowSelection.WHOLE_SITE,
                        s -> {
                          s.putDeploy(deploy(1));
                          seen.set(store.metadata().findDeploy(SITE, deployId(1)).isPresent());
                          throw new IllegalStateException("rolled back");
                        }))
        .isInstanceOf(IllegalStateException.class);
    assertThat(seen.get()).as("a query saw a write that was then rolled back").isFalse();
  }

  // BREAKS: SiteRows is "valid only inside MetadataStore#inSite", but the in-memory store does not
  // enforce it: a SiteRows kept past its unit of work writes straight into the store's maps,
  // outside the monitor, with no audit and no event. (PostgreSQL fails: its handle is closed;
  // Valkey silently drops the write.)
  @Test
  void siteRowsKeptAfterItsWorkStillWrites() {
    AtomicReference<SiteRows> leaked = new AtomicReference<>();
    store
        .metadata()
        .inSite(
            "review.leak",
            SITE,
            RowSelection.WHOLE_SITE,
            s -> {
              s.putDeploy(deploy(1));
              leaked.set(s);
              return null;
            });
    try {
      leaked.get().putDeploy(deploy(2));
    } catch (RuntimeException refused) {
      // the expected outcome: refused
    }
    assertThat(store.metadata().findDeploy(SITE, deployId(2))).isEmpty();
  }

  // BREAKS: SiteRows takes rows of another site without a word. In memory a deploy (or tombstone)
  // whose site() is site-b is kept under site-a and comes back from findDeploy(site-a, ...) and
  // listExpiredTombstones with site() = site-b; the tombstone purge then purges
  // (site-b, id), finds nothing, and the site-a tombstone is listed as expired for ever.
  // PostgreSQL and Valkey silently rewrite the row's site to the unit of work's (they bind the
  // Tx's site, and parse rows with it). Expected: refused (IllegalArgumentException) on every
  // store, or at least the same outcome on all three.
  @Test
  void rowOfAnotherSiteIsKeptWithItsForeignSite() {
    store
        .metadata()
        .inSite(
            "review.foreign",
            SITE,
            RowSelection.WHOLE_SITE,
            s -> {
              s.putDeploy(
                  new Deploy(
                      OTHER_SITE,
                      deployId(1),
                      sha(1),
                      DeployState.PENDING,
                      clock.instant(),
                      null,
                      null));
              return null;
            });
    assertThat(store.metadata().findDeploy(SITE, deployId(1)))
        .hasValueSatisfying(d -> assertThat(d.site()).isEqualTo(SITE));
  }
}
