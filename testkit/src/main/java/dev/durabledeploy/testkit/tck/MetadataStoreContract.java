package dev.durabledeploy.testkit.tck;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.durabledeploy.spi.Actor;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.metadata.Alias;
import dev.durabledeploy.spi.metadata.AliasRow;
import dev.durabledeploy.spi.metadata.AuditEntry;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.spi.metadata.DeployState;
import dev.durabledeploy.spi.metadata.MetadataStore;
import dev.durabledeploy.spi.metadata.RowSelection;
import dev.durabledeploy.spi.metadata.SiteRows;
import dev.durabledeploy.spi.metadata.Tombstone;
import dev.durabledeploy.spi.outbox.NewEvent;
import dev.durabledeploy.spi.outbox.OutboxEvent;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.function.Function;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/**
 * The contract of a {@link MetadataStore} as storage: what a store guarantees of a {@link
 * MetadataStore#inSite unit of work} (atomicity, isolation, reads of its own writes, the rows it
 * sees), the precision of its times, the order of the audit entries and events it appends, and what
 * its queries answer. Every unit of work here is written by hand against {@link SiteRows}; the
 * commands built on them (and their rules) are {@code durable-core}'s and tested there.
 */
public abstract class MetadataStoreContract extends StoreFixture {

  protected static final AliasName PROD = AliasName.PRODUCTION;
  protected static final AliasName PREVIEW = AliasName.PREVIEW;
  private static final Duration WINDOW = Duration.ofDays(7);
  private static final String WRITE = "tck.write";

  protected MetadataStore metadata;

  @BeforeEach
  void metadata() {
    metadata = store.metadata();
  }

  /** The exception the failing units of work throw. */
  private static final class WorkFailed extends RuntimeException {
    WorkFailed() {
      super("the unit of work failed on purpose");
    }
  }

  // ---- helpers -------------------------------------------------------------------------------

  /** Runs {@code work} on the whole of {@code site} and commits it. */
  protected void write(SiteId site, Consumer<SiteRows> work) {
    metadata.inSite(
        WRITE,
        site,
        RowSelection.WHOLE_SITE,
        s -> {
          work.accept(s);
          return null;
        });
  }

  /** Runs {@code work} on the whole of {@code site}, returning what it returns. */
  protected <T> T read(SiteId site, Function<SiteRows, T> work) {
    return metadata.inSite("tck.read", site, RowSelection.WHOLE_SITE, work);
  }

  /** Deploy {@code n} of {@code site} in {@code state}, created (and finalized) at {@code at}. */
  protected static Deploy deploy(SiteId site, int n, DeployState state, Instant at) {
    return new Deploy(
        site, deployId(n), sha(n), state, at, state == DeployState.ACTIVE ? at : null, null, null);
  }

  protected static Tombstone tombstone(Deploy deploy, Instant at, Duration window) {
    return new Tombstone(deploy, at, at.plus(window));
  }

  private static NewEvent event(SiteId site, String type, int n) {
    return new NewEvent(site, type, Map.of("n", Integer.toString(n)));
  }

  private void runConcurrently(int threads, Callable<Void> body) throws Exception {
    CountDownLatch start = new CountDownLatch(1);
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      List<Future<Void>> futures = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        futures.add(
            pool.submit(
                () -> {
                  assertThat(start.await(30, TimeUnit.SECONDS)).isTrue();
                  return body.call();
                }));
      }
      start.countDown();
      for (Future<Void> f : futures) {
        f.get(120, TimeUnit.SECONDS);
      }
    } finally {
      pool.shutdownNow();
      assertThat(pool.awaitTermination(30, TimeUnit.SECONDS)).isTrue();
    }
  }

  /**
   * A site with two deploys (1 active behind production, 2 pending), a deleted alias, a tombstone.
   */
  private void populate(SiteId site) {
    write(
        site,
        s -> {
          Instant now = s.now();
          s.putDeploy(deploy(site, 1, DeployState.ACTIVE, now));
          s.putDeploy(deploy(site, 2, DeployState.PENDING, now));
          s.putAlias(PROD, new AliasRow(deployId(1), 3, now));
          s.putAlias(PREVIEW, new AliasRow(null, 2, now));
          s.putTombstone(tombstone(deploy(site, 3, DeployState.ACTIVE, now), now, WINDOW));
          s.audit(ACTOR, "tck.populate", site.value(), null, "populated");
          s.emit(event(site, "tck.populated", 0));
        });
  }

  /** Everything a store answers about a site, to compare before and after. */
  private record Snapshot(
      List<Deploy> deploys,
      List<Alias> aliases,
      List<Tombstone> tombstones,
      Map<AliasName, AliasRow> aliasRows,
      int deployCount,
      int tombstoneCount,
      List<AuditEntry> audit,
      List<SiteId> sites) {}

  private Snapshot snapshot(SiteId site) {
    Map<AliasName, AliasRow> rows = read(site, s -> new LinkedHashMap<>(s.aliases()));
    int[] counts = read(site, s -> new int[] {s.deployCount(), s.tombstoneCount()});
    return new Snapshot(
        metadata.listDeploys(site),
        metadata.listAliases(site),
        metadata.listTombstones(site),
        rows,
        counts[0],
        counts[1],
        metadata.auditLog(site, 1000),
        metadata.listSites(null, 1000));
  }

  // ---- the rules of a unit of work (spi.support.UnitsOfWork) -----------------------------------

  /** Throws {@code t} as if it were unchecked, as Kotlin, Groovy or Lombok's @SneakyThrows do. */
  @SuppressWarnings("unchecked")
  private static <E extends Throwable> RuntimeException sneaky(Throwable t) throws E {
    throw (E) t;
  }

  @Nested
  @DisplayName("the rules every unit of work obeys")
  class Rules {

    @Test
    @DisplayName(
        "a checked exception thrown from a work leaves nothing either, and reaches the caller")
    void checkedException() {
      java.io.IOException checked = new java.io.IOException("checked, thrown sneakily");
      Snapshot before = snapshot(SITE);
      assertThatThrownBy(
              () ->
                  write(
                      SITE,
                      s -> {
                        s.putDeploy(deploy(SITE, 1, DeployState.PENDING, s.now()));
                        s.audit(ACTOR, "tck.checked", "x", null, null);
                        s.emit(event(SITE, "tck.checked", 1));
                        throw sneaky(checked);
                      }))
          .isSameAs(checked);
      assertThat(snapshot(SITE)).isEqualTo(before);
      assertThat(drainEvents()).isEmpty();
    }

    @Test
    @DisplayName("a unit of work started inside another is refused, and the outer commits nothing")
    void noNesting() {
      populate(SITE);
      drainEvents();
      Snapshot before = snapshot(SITE);
      AtomicInteger runs = new AtomicInteger();
      assertThatThrownBy(
              () ->
                  write(
                      SITE,
                      s -> {
                        runs.incrementAndGet();
                        s.putDeploy(deploy(SITE, 9, DeployState.PENDING, s.now()));
                        write(
                            OTHER_SITE, inner -> inner.audit(ACTOR, "tck.inner", "x", null, null));
                      }))
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("inside a unit of work");
      assertThat(runs).hasValue(1);
      assertThat(snapshot(SITE)).isEqualTo(before);
      assertThat(metadata.auditLog(OTHER_SITE, 10)).isEmpty();
      assertThat(drainEvents()).isEmpty();
    }

    @Test
    @DisplayName("a query from inside a unit of work is refused: a work reads through its rows")
    void noQueryInside() {
      AtomicBoolean saw = new AtomicBoolean();
      assertThatThrownBy(
              () ->
                  write(
                      SITE,
                      s -> {
                        s.putDeploy(deploy(SITE, 1, DeployState.PENDING, s.now()));
                        saw.set(metadata.findDeploy(SITE, deployId(1)).isPresent());
                      }))
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("findDeploy");
      assertThat(saw).isFalse();
      assertThat(metadata.findDeploy(SITE, deployId(1))).isEmpty();
    }

    @Test
    @DisplayName("the rows handed to a work refuse every call once it has returned")
    void rowsEndWithTheWork() {
      SiteRows[] kept = new SiteRows[1];
      write(SITE, s -> kept[0] = s);
      Deploy late = deploy(SITE, 2, DeployState.PENDING, clock.instant());
      assertThatThrownBy(() -> kept[0].putDeploy(late))
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("after that unit of work ended");
      assertThatThrownBy(() -> kept[0].deployCount()).isInstanceOf(IllegalStateException.class);
      assertThat(metadata.findDeploy(SITE, deployId(2))).isEmpty();
    }

    @Test
    @DisplayName("a row of another site is refused, naming both sites")
    void rowOfAnotherSite() {
      assertThatThrownBy(
              () ->
                  write(
                      SITE, s -> s.putDeploy(deploy(OTHER_SITE, 1, DeployState.PENDING, s.now()))))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining(SITE.value())
          .hasMessageContaining(OTHER_SITE.value());
      assertThatThrownBy(
              () ->
                  write(
                      SITE,
                      s ->
                          s.putTombstone(
                              tombstone(
                                  deploy(OTHER_SITE, 1, DeployState.ACTIVE, s.now()),
                                  s.now(),
                                  WINDOW))))
          .isInstanceOf(IllegalArgumentException.class);
      assertThat(metadata.listDeploys(SITE)).isEmpty();
      assertThat(metadata.listTombstones(SITE)).isEmpty();
      assertThat(metadata.listDeploys(OTHER_SITE)).isEmpty();
    }

    @Test
    @DisplayName("a row the selection does not name is refused, whether read, written or removed")
    void selectionIsTheScope() {
      populate(SITE); // deploys 1 (aliased) and 2, tombstone 3
      Snapshot before = snapshot(SITE);
      RowSelection none = RowSelection.of(List.of(), List.of());
      List<Consumer<SiteRows>> outside =
          List.of(
              s -> s.deploy(deployId(2)),
              s -> s.removeDeploy(deployId(2)),
              s -> s.putDeploy(deploy(SITE, 2, DeployState.ACTIVE, s.now())),
              s -> s.tombstone(deployId(3)),
              s -> s.removeTombstone(deployId(3)),
              s ->
                  s.putTombstone(
                      tombstone(deploy(SITE, 4, DeployState.ACTIVE, s.now()), s.now(), WINDOW)));
      for (Consumer<SiteRows> work : outside) {
        assertThatThrownBy(
                () ->
                    metadata.inSite(
                        WRITE,
                        SITE,
                        none,
                        s -> {
                          work.accept(s);
                          return null;
                        }))
            .isInstanceOf(IllegalStateException.class)
            .hasMessageContaining("RowSelection");
      }
      // The deploy an alias targets comes along; after removeAll the work knows the whole site.
      Deploy aliased = metadata.inSite(WRITE, SITE, none, s -> s.deploy(deployId(1)));
      assertThat(aliased).isEqualTo(before.deploys().get(0));
      metadata.inSite(
          WRITE,
          SITE,
          none,
          s -> {
            s.removeAll();
            s.putDeploy(deploy(SITE, 5, DeployState.PENDING, s.now()));
            return null;
          });
      assertThat(metadata.listDeploys(SITE)).extracting(Deploy::id).containsExactly(deployId(5));
      int[] counts = read(SITE, s -> new int[] {s.deployCount(), s.tombstoneCount()});
      assertThat(counts).containsExactly(1, 0);
      assertThat(metadata.listSites(null, 10)).containsExactly(SITE);
    }

    @Test
    @DisplayName("a NUL in audit text does not fail the unit of work")
    void nulInAuditText() {
      write(
          SITE,
          s -> {
            s.putDeploy(deploy(SITE, 1, DeployState.PENDING, s.now()));
            s.audit(ACTOR, "tck.nul", "a\u0000b", null, "c\u0000d");
          });
      assertThat(metadata.findDeploy(SITE, deployId(1))).isPresent();
      AuditEntry entry = metadata.auditLog(SITE, 1).get(0);
      // PostgreSQL text cannot hold NUL: it keeps a space there; the other stores keep the NUL.
      assertThat(entry.target()).isIn("a\u0000b", "a b");
      assertThat(entry.after()).isIn("c\u0000d", "c d");
    }
  }

  // ---- atomicity -------------------------------------------------------------------------------

  @Nested
  @DisplayName("a unit of work that throws")
  class Atomicity {

    @Test
    @DisplayName("leaves no row, no audit entry, no event, and its exception reaches the caller")
    void throwLeavesNothing() {
      WorkFailed boom = new WorkFailed();
      assertThatThrownBy(
              () ->
                  metadata.inSite(
                      WRITE,
                      SITE,
                      RowSelection.WHOLE_SITE,
                      s -> {
                        Instant now = s.now();
                        s.putDeploy(deploy(SITE, 1, DeployState.ACTIVE, now));
                        s.putAlias(PROD, new AliasRow(deployId(1), 1, now));
                        s.putTombstone(
                            tombstone(deploy(SITE, 2, DeployState.PENDING, now), now, WINDOW));
                        s.audit(ACTOR, "tck.fail", "x", null, null);
                        s.emit(event(SITE, "tck.failed", 1));
                        throw boom;
                      }))
          .isSameAs(boom);
      assertThat(metadata.findDeploy(SITE, deployId(1))).isEmpty();
      assertThat(metadata.listDeploys(SITE)).isEmpty();
      assertThat(metadata.findAlias(SITE, PROD)).isEmpty();
      assertThat(metadata.listAliases(SITE)).isEmpty();
      assertThat(metadata.findTombstone(SITE, deployId(2))).isEmpty();
      assertThat(metadata.listTombstones(SITE)).isEmpty();
      assertThat(metadata.listExpiredTombstones(clock.instant().plus(WINDOW), 10)).isEmpty();
      assertThat(metadata.listSites(null, 10)).isEmpty();
      assertThat(metadata.auditLog(SITE, 10)).isEmpty();
      assertThat(drainEvents()).isEmpty();
      assertThat(
              MetadataStoreContract.this.<Integer>read(
                  SITE, s -> s.aliases().size() + s.deployCount() + s.tombstoneCount()))
          .isZero();
    }

    @Test
    @DisplayName("over existing rows restores every row it replaced or removed")
    void throwRestoresExisting() {
      populate(SITE);
      drainEvents();
      Snapshot before = snapshot(SITE);
      clock.advance(Duration.ofMinutes(1));
      IllegalStateException boom = new IllegalStateException("no");
      assertThatThrownBy(
              () ->
                  metadata.inSite(
                      WRITE,
                      SITE,
                      RowSelection.of(
                          List.of(deployId(1), deployId(2), deployId(3)),
                          List.of(deployId(3), deployId(4))),
                      s -> {
                        Instant now = s.now();
                        s.putDeploy(deploy(SITE, 2, DeployState.FINALIZING, now));
                        s.removeDeploy(deployId(1));
                        s.putAlias(PROD, new AliasRow(deployId(2), 4, now));
                        s.putAlias(PREVIEW, new AliasRow(deployId(2), 3, now));
                        s.removeTombstone(deployId(3));
                        s.putDeploy(deploy(SITE, 3, DeployState.ACTIVE, now));
                        s.putTombstone(
                            tombstone(deploy(SITE, 4, DeployState.ACTIVE, now), now, WINDOW));
                        s.audit(ACTOR, "tck.fail", "x", null, null);
                        s.emit(event(SITE, "tck.failed", 1));
                        throw boom;
                      }))
          .isSameAs(boom);
      assertThat(snapshot(SITE)).isEqualTo(before);
      assertThat(metadata.findTombstone(SITE, deployId(4))).isEmpty();
      assertThat(drainEvents()).isEmpty();
    }

    @Test
    @DisplayName("after removeAll restores the whole site, deleted alias rows included")
    void removeAllThenThrow() {
      populate(SITE);
      drainEvents();
      Snapshot before = snapshot(SITE);
      WorkFailed boom = new WorkFailed();
      assertThatThrownBy(
              () ->
                  metadata.inSite(
                      WRITE,
                      SITE,
                      RowSelection.WHOLE_SITE,
                      s -> {
                        s.removeAll();
                        s.putDeploy(deploy(SITE, 9, DeployState.PENDING, s.now()));
                        s.audit(ACTOR, "site.delete", SITE.value(), null, null);
                        s.emit(event(SITE, "site.deleted", 1));
                        throw boom;
                      }))
          .isSameAs(boom);
      assertThat(snapshot(SITE)).isEqualTo(before);
      assertThat(before.aliasRows()).containsKey(PREVIEW);
      assertThat(metadata.findDeploy(SITE, deployId(9))).isEmpty();
      assertThat(metadata.listExpiredTombstones(clock.instant().plus(WINDOW), 10))
          .extracting(Tombstone::deployId)
          .containsExactly(deployId(3));
      assertThat(drainEvents()).isEmpty();
    }

    @Test
    @DisplayName("leaves the site usable: the next unit of work commits and sees only its rows")
    void nextWorkCommits() {
      assertThatThrownBy(
              () ->
                  metadata.inSite(
                      WRITE,
                      SITE,
                      RowSelection.WHOLE_SITE,
                      s -> {
                        s.putDeploy(deploy(SITE, 1, DeployState.PENDING, s.now()));
                        s.audit(ACTOR, "tck.fail", "x", null, null);
                        throw new WorkFailed();
                      }))
          .isInstanceOf(WorkFailed.class);
      write(
          SITE,
          s -> {
            assertThat(s.deploy(deployId(1))).isNull();
            assertThat(s.deployCount()).isZero();
            s.putDeploy(deploy(SITE, 2, DeployState.PENDING, s.now()));
            s.audit(ACTOR, "tck.ok", "y", null, null);
            s.emit(event(SITE, "tck.ok", 2));
          });
      assertThat(metadata.listDeploys(SITE)).extracting(Deploy::id).containsExactly(deployId(2));
      assertThat(metadata.auditLog(SITE, 10))
          .extracting(AuditEntry::action)
          .containsExactly("tck.ok");
      assertThat(drainEventTypes()).containsExactly("tck.ok");
    }
  }

  // ---- reads of own writes -------------------------------------------------------------------

  @Nested
  @DisplayName("inside a unit of work, reads see its own writes")
  class OwnWrites {

    @Test
    @DisplayName("putDeploy, replace and removeDeploy, with the deploy count")
    void deploys() {
      List<Object> seen =
          metadata.inSite(
              WRITE,
              SITE,
              RowSelection.of(List.of(deployId(1)), List.of()),
              s -> {
                List<Object> out = new ArrayList<>();
                out.add(s.deploy(deployId(1)));
                out.add(s.now());
                Deploy pending = deploy(SITE, 1, DeployState.PENDING, s.now());
                s.putDeploy(pending);
                out.add(s.deploy(deployId(1)));
                out.add(s.deployCount());
                Deploy active = deploy(SITE, 1, DeployState.ACTIVE, s.now());
                s.putDeploy(active);
                out.add(s.deploy(deployId(1)));
                out.add(s.deployCount());
                s.removeDeploy(deployId(1));
                out.add(s.deploy(deployId(1)));
                out.add(s.deployCount());
                s.putDeploy(pending);
                return out;
              });
      Deploy pending = deploy(SITE, 1, DeployState.PENDING, (Instant) seen.get(1));
      Deploy active = deploy(SITE, 1, DeployState.ACTIVE, (Instant) seen.get(1));
      assertThat(seen).containsExactly(null, seen.get(1), pending, 1, active, 1, null, 0);
      assertThat(metadata.listDeploys(SITE)).containsExactly(pending);
      assertThat(MetadataStoreContract.this.<Integer>read(SITE, s -> s.deployCount())).isEqualTo(1);
    }

    @Test
    @DisplayName("putAlias: aliases() holds every row, deleted ones included, ordered by name")
    void aliases() {
      Map<AliasName, AliasRow> seen =
          read(
              SITE,
              s -> {
                Instant now = s.now();
                s.putDeploy(deploy(SITE, 1, DeployState.ACTIVE, now));
                s.putAlias(AliasName.of("zeta"), new AliasRow(deployId(1), 1, now));
                s.putAlias(AliasName.of("alpha"), new AliasRow(null, 2, now));
                s.putAlias(AliasName.of("mid"), new AliasRow(deployId(1), 5, now));
                s.putAlias(AliasName.of("mid"), new AliasRow(deployId(1), 6, now));
                return new LinkedHashMap<>(s.aliases());
              });
      assertThat(seen.keySet())
          .extracting(AliasName::value)
          .containsExactly("alpha", "mid", "zeta");
      assertThat(seen.get(AliasName.of("alpha")).target()).isNull();
      assertThat(seen.get(AliasName.of("mid")).version()).isEqualTo(6);
      assertThat(metadata.findAlias(SITE, AliasName.of("mid")).orElseThrow().version())
          .isEqualTo(6);
    }

    @Test
    @DisplayName("putTombstone and removeTombstone, with the tombstone count")
    void tombstones() {
      List<Object> seen =
          metadata.inSite(
              WRITE,
              SITE,
              RowSelection.of(List.of(), List.of(deployId(1), deployId(2))),
              s -> {
                Instant now = s.now();
                List<Object> out = new ArrayList<>();
                Tombstone t1 = tombstone(deploy(SITE, 1, DeployState.ACTIVE, now), now, WINDOW);
                Tombstone t2 = tombstone(deploy(SITE, 2, DeployState.PENDING, now), now, WINDOW);
                s.putTombstone(t1);
                s.putTombstone(t2);
                out.add(s.tombstone(deployId(1)).equals(t1));
                out.add(s.tombstoneCount());
                s.removeTombstone(deployId(1));
                out.add(s.tombstone(deployId(1)));
                out.add(s.tombstoneCount());
                return out;
              });
      assertThat(seen).containsExactly(true, 2, null, 1);
      assertThat(metadata.listTombstones(SITE))
          .extracting(Tombstone::deployId)
          .containsExactly(deployId(2));
    }

    @Test
    @DisplayName("removeAll empties the site's view; rows written after it in the work are kept")
    void removeAllThenWrite() {
      populate(SITE);
      List<Integer> counts =
          read(
              SITE,
              s -> {
                s.removeAll();
                List<Integer> out =
                    new ArrayList<>(
                        List.of(s.deployCount(), s.tombstoneCount(), s.aliases().size()));
                out.add(s.deploy(deployId(1)) == null ? 0 : 1);
                out.add(s.tombstone(deployId(3)) == null ? 0 : 1);
                Instant now = s.now();
                s.putDeploy(deploy(SITE, 5, DeployState.ACTIVE, now));
                s.putAlias(PROD, new AliasRow(deployId(5), 1, now));
                s.putTombstone(tombstone(deploy(SITE, 6, DeployState.ACTIVE, now), now, WINDOW));
                out.add(s.deployCount());
                out.add(s.tombstoneCount());
                return out;
              });
      assertThat(counts).containsExactly(0, 0, 0, 0, 0, 1, 1);
      assertThat(metadata.listDeploys(SITE)).extracting(Deploy::id).containsExactly(deployId(5));
      assertThat(metadata.listAliases(SITE))
          .singleElement()
          .satisfies(
              a -> {
                assertThat(a.target()).isEqualTo(deployId(5));
                assertThat(a.version()).isEqualTo(1);
              });
      assertThat(
              MetadataStoreContract.this.<Set<AliasName>>read(
                  SITE, s -> new HashSet<>(s.aliases().keySet())))
          .containsExactly(PROD);
      assertThat(metadata.listTombstones(SITE))
          .extracting(Tombstone::deployId)
          .containsExactly(deployId(6));
      assertThat(metadata.listExpiredTombstones(clock.instant().plus(WINDOW), 10))
          .extracting(Tombstone::deployId)
          .containsExactly(deployId(6));
      assertThat(metadata.listSites(null, 10)).containsExactly(SITE);
    }
  }

  // ---- later units of work ---------------------------------------------------------------------

  @Nested
  @DisplayName("across units of work")
  class Later {

    @Test
    @DisplayName("after removeAll a later unit of work writes again, versions as written")
    void removeAllThenLaterWrite() {
      populate(SITE);
      write(SITE, SiteRows::removeAll);
      assertThat(snapshot(SITE).aliasRows()).isEmpty();
      assertThat(metadata.listSites(null, 10)).isEmpty();
      assertThat(metadata.listExpiredTombstones(clock.instant().plus(WINDOW), 10)).isEmpty();
      write(
          SITE,
          s -> {
            assertThat(s.aliases()).isEmpty();
            assertThat(s.deployCount()).isZero();
            assertThat(s.tombstoneCount()).isZero();
            Instant now = s.now();
            s.putDeploy(deploy(SITE, 1, DeployState.ACTIVE, now));
            s.putAlias(PROD, new AliasRow(deployId(1), 1, now));
            s.putTombstone(tombstone(deploy(SITE, 3, DeployState.ACTIVE, now), now, WINDOW));
          });
      assertThat(metadata.findAlias(SITE, PROD).orElseThrow().version()).isEqualTo(1);
      assertThat(metadata.findAlias(SITE, PREVIEW)).isEmpty();
      assertThat(
              MetadataStoreContract.this.<Set<AliasName>>read(
                  SITE, s -> new HashSet<>(s.aliases().keySet())))
          .containsExactly(PROD);
      assertThat(metadata.listDeploys(SITE)).extracting(Deploy::id).containsExactly(deployId(1));
      assertThat(metadata.findTombstone(SITE, deployId(3))).isPresent();
      assertThat(metadata.listSites(null, 10)).containsExactly(SITE);
    }

    @Test
    @DisplayName("removeAll under a partial selection still removes every row, listings included")
    void removeAllPartialSelection() {
      populate(SITE);
      write(
          SITE,
          s -> {
            for (int n = 10; n < 13; n++) {
              s.putTombstone(
                  tombstone(deploy(SITE, n, DeployState.ACTIVE, s.now()), s.now(), WINDOW));
            }
          });
      metadata.inSite(
          "site.delete",
          SITE,
          RowSelection.of(List.of(deployId(2)), List.of(deployId(3))),
          s -> {
            s.removeAll();
            assertThat(s.deployCount()).isZero();
            assertThat(s.tombstoneCount()).isZero();
            assertThat(s.aliases()).isEmpty();
            return null;
          });
      assertThat(metadata.listDeploys(SITE)).isEmpty();
      assertThat(metadata.listAliases(SITE)).isEmpty();
      assertThat(metadata.listTombstones(SITE)).isEmpty();
      assertThat(metadata.listSites(null, 10)).isEmpty();
      assertThat(metadata.listExpiredTombstones(clock.instant().plus(WINDOW), 10)).isEmpty();
      write(
          OTHER_SITE,
          s ->
              s.putTombstone(
                  tombstone(deploy(OTHER_SITE, 1, DeployState.ACTIVE, s.now()), s.now(), WINDOW)));
      // A limit of one must find the live tombstone, not a left-over entry of the deleted site.
      assertThat(metadata.listExpiredTombstones(clock.instant().plus(WINDOW), 1))
          .extracting(Tombstone::site)
          .containsExactly(OTHER_SITE);
      assertThat(
              MetadataStoreContract.this.<Map<AliasName, AliasRow>>read(
                  SITE, s -> new LinkedHashMap<>(s.aliases())))
          .isEmpty();
    }

    @Test
    @DisplayName("an alias's version continues after a deleted row (null target) and a live one")
    void aliasVersionContinues() {
      write(
          SITE,
          s -> {
            s.putDeploy(deploy(SITE, 1, DeployState.ACTIVE, s.now()));
            s.putAlias(PROD, new AliasRow(deployId(1), 1, s.now()));
          });
      write(
          SITE,
          s -> s.putAlias(PROD, new AliasRow(null, s.aliases().get(PROD).version() + 1, s.now())));
      assertThat(metadata.findAlias(SITE, PROD)).isEmpty();
      assertThat(metadata.listAliases(SITE)).isEmpty();
      AliasRow deleted = read(SITE, s -> s.aliases().get(PROD));
      assertThat(deleted.target()).isNull();
      assertThat(deleted.version()).isEqualTo(2);
      write(
          SITE,
          s ->
              s.putAlias(
                  PROD, new AliasRow(deployId(1), s.aliases().get(PROD).version() + 1, s.now())));
      Alias again = metadata.findAlias(SITE, PROD).orElseThrow();
      assertThat(again.version()).isEqualTo(3);
      assertThat(again.target()).isEqualTo(deployId(1));
      assertThat(metadata.listAliases(SITE)).containsExactly(again);
    }

    @Test
    @DisplayName("a unit of work that writes nothing appends no event and no audit entry")
    void readOnlyWork() {
      populate(SITE);
      drainEvents();
      int audits = metadata.auditLog(SITE, 100).size();
      Object token = new Object();
      Object result =
          metadata.inSite(
              "tck.read",
              SITE,
              RowSelection.of(List.of(deployId(1)), List.of(deployId(3))),
              s -> {
                assertThat(s.deploy(deployId(1))).isNotNull();
                return token;
              });
      assertThat(result).isSameAs(token);
      assertThat(MetadataStoreContract.this.<Integer>read(OTHER_SITE, s -> s.aliases().size()))
          .isZero();
      assertThat(metadata.auditLog(SITE, 100)).hasSize(audits);
      assertThat(metadata.auditLog(OTHER_SITE, 100)).isEmpty();
      assertThat(drainEvents()).isEmpty();
      assertThat(metadata.listSites(null, 10)).containsExactly(SITE);
    }

    @Test
    @DisplayName(
        "a tombstone taken back out of the site leaves the expiry listing; a new expiry replaces")
    void expiryIndexFollowsRows() {
      write(
          SITE,
          s -> {
            Instant now = s.now();
            s.putTombstone(tombstone(deploy(SITE, 1, DeployState.ACTIVE, now), now, WINDOW));
            s.putTombstone(tombstone(deploy(SITE, 2, DeployState.ACTIVE, now), now, WINDOW));
          });
      Instant later = clock.instant().plus(Duration.ofDays(30));
      assertThat(metadata.listExpiredTombstones(later, 10)).hasSize(2);
      write(
          SITE,
          s -> {
            Tombstone t = s.tombstone(deployId(1));
            s.removeTombstone(deployId(1));
            s.putDeploy(t.deploy());
            Tombstone t2 = s.tombstone(deployId(2));
            s.putTombstone(
                new Tombstone(
                    t2.deploy(), t2.deletedAt(), t2.expiresAt().plus(Duration.ofDays(60))));
          });
      assertThat(metadata.listExpiredTombstones(later, 10)).isEmpty();
      assertThat(metadata.listExpiredTombstones(later.plus(Duration.ofDays(60)), 10))
          .extracting(Tombstone::deployId)
          .containsExactly(deployId(2));
      assertThat(metadata.findDeploy(SITE, deployId(1))).isPresent();
      assertThat(metadata.listTombstones(SITE)).hasSize(1);
    }
  }

  // ---- isolation -------------------------------------------------------------------------------

  @Nested
  @DisplayName("isolation")
  class Isolation {

    @Test
    @DisplayName("8 threads x 25 units of work incrementing an alias version lose no update")
    void noLostUpdateOnAlias() throws Exception {
      write(SITE, s -> s.putDeploy(deploy(SITE, 1, DeployState.ACTIVE, s.now())));
      int threads = 8;
      int perThread = 25;
      runConcurrently(
          threads,
          () -> {
            for (int i = 0; i < perThread; i++) {
              metadata.inSite(
                  WRITE,
                  SITE,
                  RowSelection.of(List.of(), List.of()),
                  s -> {
                    AliasRow row = s.aliases().get(PROD);
                    long next = row == null ? 1 : row.version() + 1;
                    s.putAlias(PROD, new AliasRow(deployId(1), next, s.now()));
                    s.audit(ACTOR, "tck.increment", "alias:production", null, Long.toString(next));
                    s.emit(event(SITE, "tck.incremented", (int) next));
                    return null;
                  });
            }
            return null;
          });
      int total = threads * perThread;
      assertThat(metadata.findAlias(SITE, PROD).orElseThrow().version()).isEqualTo(total);
      List<AuditEntry> log = metadata.auditLog(SITE, 1000);
      assertThat(log).hasSize(total);
      assertThat(log).extracting(AuditEntry::after).doesNotHaveDuplicates();
      assertThat(log.get(0).after()).isEqualTo(Integer.toString(total));
      List<OutboxEvent> events = drainEvents();
      assertThat(events).hasSize(total);
      // One work at a time: the counters were appended in order.
      assertThat(events)
          .extracting(e -> Integer.parseInt(e.get("n")))
          .isSortedAccordingTo(Integer::compare)
          .doesNotHaveDuplicates();
    }

    @Test
    @DisplayName("8 threads x 25 units of work incrementing a selected deploy's sha lose no update")
    void noLostUpdateOnSelectedDeploy() throws Exception {
      write(
          SITE,
          s ->
              s.putDeploy(
                  new Deploy(
                      SITE, deployId(1), counter(0), DeployState.PENDING, s.now(), null, null)));
      int threads = 8;
      int perThread = 25;
      runConcurrently(
          threads,
          () -> {
            for (int i = 0; i < perThread; i++) {
              metadata.inSite(
                  WRITE,
                  SITE,
                  RowSelection.of(List.of(deployId(1)), List.of()),
                  s -> {
                    Deploy d = s.deploy(deployId(1));
                    int n = Integer.parseInt(d.sha(), 16);
                    s.putDeploy(
                        new Deploy(
                            SITE, d.id(), counter(n + 1), d.state(), d.createdAt(), null, null));
                    return null;
                  });
            }
            return null;
          });
      assertThat(Integer.parseInt(metadata.findDeploy(SITE, deployId(1)).orElseThrow().sha(), 16))
          .isEqualTo(threads * perThread);
    }

    private static String counter(int n) {
      return String.format(Locale.ROOT, "%08x", n);
    }

    @Test
    @DisplayName("16 threads doing compare-and-set on one alias: version = 1 + successes (port)")
    void concurrentCas() throws Exception {
      write(
          SITE,
          s -> {
            for (int i = 0; i < 5; i++) {
              s.putDeploy(deploy(SITE, i, DeployState.ACTIVE, s.now()));
            }
            s.putAlias(PROD, new AliasRow(deployId(0), 1, s.now()));
          });
      drainEvents();
      int threads = 16;
      int perThread = 10;
      AtomicInteger successes = new AtomicInteger();
      AtomicInteger drifts = new AtomicInteger();
      AtomicInteger thread = new AtomicInteger();
      runConcurrently(
          threads,
          () -> {
            int me = thread.getAndIncrement();
            for (int i = 0; i < perThread; i++) {
              Alias seen = metadata.findAlias(SITE, PROD).orElseThrow();
              DeployId target = deployId((me + i) % 5);
              if (target.equals(seen.target())) {
                target = deployId((me + i + 1) % 5);
              }
              DeployId to = target;
              try {
                long after =
                    metadata.inSite(
                        "alias.move",
                        SITE,
                        RowSelection.of(List.of(to), List.of()),
                        s -> {
                          AliasRow row = s.aliases().get(PROD);
                          if (row.version() != seen.version()) {
                            throw new WorkFailed();
                          }
                          assertThat(s.deploy(to)).isNotNull();
                          s.putAlias(PROD, new AliasRow(to, row.version() + 1, s.now()));
                          s.emit(event(SITE, "alias.changed", (int) row.version() + 1));
                          return row.version() + 1;
                        });
                assertThat(after).isEqualTo(seen.version() + 1);
                successes.incrementAndGet();
              } catch (WorkFailed e) {
                drifts.incrementAndGet();
              }
            }
            return null;
          });
      assertThat(successes.get() + drifts.get()).isEqualTo(threads * perThread);
      assertThat(successes.get()).isPositive();
      assertThat(metadata.findAlias(SITE, PROD).orElseThrow().version())
          .isEqualTo(1L + successes.get());
      assertThat(drainEvents()).hasSize(successes.get());
    }

    @Test
    @DisplayName("queries never see half a unit of work")
    void queriesSeeAllOrNothing() throws Exception {
      AliasName a = AliasName.of("a");
      AliasName b = AliasName.of("b");
      write(SITE, s -> s.putDeploy(deploy(SITE, 1, DeployState.ACTIVE, s.now())));
      AtomicBoolean writing = new AtomicBoolean(true);
      AtomicInteger reads = new AtomicInteger();
      ExecutorService pool = Executors.newFixedThreadPool(2);
      CountDownLatch start = new CountDownLatch(1);
      try {
        Future<?> writer =
            pool.submit(
                () -> {
                  start.await();
                  for (int i = 1; i <= 100; i++) {
                    long v = i;
                    write(
                        SITE,
                        s -> {
                          s.putAlias(a, new AliasRow(deployId(1), v, s.now()));
                          s.putAlias(b, new AliasRow(deployId(1), v, s.now()));
                        });
                  }
                  writing.set(false);
                  return null;
                });
        Future<?> reader =
            pool.submit(
                () -> {
                  start.await();
                  while (writing.get() || reads.get() == 0) {
                    List<Alias> aliases = metadata.listAliases(SITE);
                    if (!aliases.isEmpty()) {
                      assertThat(aliases).hasSize(2);
                      assertThat(aliases.get(0).version()).isEqualTo(aliases.get(1).version());
                    }
                    reads.incrementAndGet();
                  }
                  return null;
                });
        start.countDown();
        writer.get(120, TimeUnit.SECONDS);
        reader.get(120, TimeUnit.SECONDS);
      } finally {
        pool.shutdownNow();
      }
      assertThat(reads.get()).isPositive();
      assertThat(metadata.findAlias(SITE, b).orElseThrow().version()).isEqualTo(100);
    }

    @Test
    @DisplayName("a site's rows are not seen by another site's unit of work or queries")
    void sitesAreSeparate() {
      populate(SITE);
      List<Object> other =
          metadata.inSite(
              WRITE,
              OTHER_SITE,
              RowSelection.of(List.of(deployId(1), deployId(2)), List.of(deployId(3))),
              s -> {
                List<Object> out = new ArrayList<>();
                out.add(s.aliases().size());
                out.add(s.deployCount());
                out.add(s.tombstoneCount());
                out.add(s.deploy(deployId(1)));
                out.add(s.tombstone(deployId(3)));
                s.putDeploy(deploy(OTHER_SITE, 1, DeployState.PENDING, s.now()));
                return out;
              });
      assertThat(other).containsExactly(0, 0, 0, null, null);
      assertThat(metadata.findDeploy(SITE, deployId(1)).orElseThrow().state())
          .isEqualTo(DeployState.ACTIVE);
      assertThat(metadata.findDeploy(OTHER_SITE, deployId(1)).orElseThrow().site())
          .isEqualTo(OTHER_SITE);
      assertThat(metadata.listAliases(OTHER_SITE)).isEmpty();
      assertThat(metadata.listTombstones(OTHER_SITE)).isEmpty();
    }
  }

  // ---- the selection ---------------------------------------------------------------------------

  @Nested
  @DisplayName("the rows a unit of work sees")
  class Selection {

    @Test
    @DisplayName("the selected deploy and tombstone, as stored")
    void selected() {
      write(
          SITE,
          s -> {
            Instant now = s.now();
            for (int n = 1; n <= 3; n++) {
              s.putDeploy(deploy(SITE, n, DeployState.ACTIVE, now));
            }
            s.putTombstone(tombstone(deploy(SITE, 4, DeployState.ACTIVE, now), now, WINDOW));
            s.putTombstone(tombstone(deploy(SITE, 5, DeployState.PENDING, now), now, WINDOW));
          });
      Deploy two = metadata.findDeploy(SITE, deployId(2)).orElseThrow();
      Tombstone five = metadata.findTombstone(SITE, deployId(5)).orElseThrow();
      List<Object> seen =
          metadata.inSite(
              "tck.read",
              SITE,
              RowSelection.of(List.of(deployId(2), deployId(7)), List.of(deployId(5), deployId(8))),
              s -> {
                List<Object> out = new ArrayList<>();
                out.add(s.deploy(deployId(2)));
                out.add(s.tombstone(deployId(5)));
                out.add(s.deploy(deployId(7)));
                out.add(s.tombstone(deployId(8)));
                return out;
              });
      assertThat(seen).containsExactly(two, five, null, null);
    }

    @Test
    @DisplayName("every alias row and the deploys aliases target, even when not selected")
    void aliasesAlwaysVisible() {
      write(
          SITE,
          s -> {
            Instant now = s.now();
            s.putDeploy(deploy(SITE, 1, DeployState.ACTIVE, now));
            s.putDeploy(deploy(SITE, 2, DeployState.ACTIVE, now));
            s.putDeploy(deploy(SITE, 3, DeployState.ACTIVE, now));
            s.putAlias(PROD, new AliasRow(deployId(1), 4, now));
            s.putAlias(PREVIEW, new AliasRow(deployId(2), 1, now));
            s.putAlias(AliasName.of("gone"), new AliasRow(null, 7, now));
          });
      Map<AliasName, AliasRow> expected = read(SITE, s -> new LinkedHashMap<>(s.aliases()));
      List<Object> seen =
          metadata.inSite(
              "tck.read",
              SITE,
              RowSelection.of(List.of(), List.of()),
              s -> {
                List<Object> out = new ArrayList<>();
                out.add(new LinkedHashMap<>(s.aliases()));
                out.add(s.deploy(deployId(1)));
                out.add(s.deploy(deployId(2)));
                return out;
              });
      assertThat(seen.get(0)).isEqualTo(expected);
      assertThat(expected).hasSize(3);
      assertThat(expected.get(AliasName.of("gone")))
          .isEqualTo(new AliasRow(null, 7, expected.get(PROD).updatedAt()));
      assertThat(seen.get(1)).isEqualTo(metadata.findDeploy(SITE, deployId(1)).orElseThrow());
      assertThat(seen.get(2)).isEqualTo(metadata.findDeploy(SITE, deployId(2)).orElseThrow());
    }

    @Test
    @DisplayName("WHOLE_SITE: exact counts and every deploy and tombstone")
    void wholeSite() {
      write(
          SITE,
          s -> {
            Instant now = s.now();
            for (int n = 1; n <= 4; n++) {
              s.putDeploy(deploy(SITE, n, DeployState.ACTIVE, now));
            }
            for (int n = 5; n <= 7; n++) {
              s.putTombstone(tombstone(deploy(SITE, n, DeployState.ACTIVE, now), now, WINDOW));
            }
          });
      write(OTHER_SITE, s -> s.putDeploy(deploy(OTHER_SITE, 9, DeployState.ACTIVE, s.now())));
      List<Integer> seen =
          read(
              SITE,
              s -> {
                int visible = 0;
                for (int n = 1; n <= 7; n++) {
                  visible += s.deploy(deployId(n)) != null ? 1 : 0;
                  visible += s.tombstone(deployId(n)) != null ? 10 : 0;
                }
                return List.of(s.deployCount(), s.tombstoneCount(), visible);
              });
      assertThat(seen).containsExactly(4, 3, 34);
      assertThat(
              MetadataStoreContract.this.<List<Integer>>read(
                  SiteId.of("ghost"),
                  s -> List.of(s.deployCount(), s.tombstoneCount(), s.aliases().size())))
          .containsExactly(0, 0, 0);
    }
  }

  // ---- precision -------------------------------------------------------------------------------

  @Nested
  @DisplayName("time precision")
  class Precision {

    private static final Instant ODD = Instant.parse("2026-03-04T05:06:07.123456789Z");

    @Test
    @DisplayName("now() is at the store's precision, between the clock truncated and the clock")
    void nowIsStoredPrecision() {
      clock.set(ODD);
      List<Instant> seen = read(SITE, s -> List.of(s.now(), s.stored(s.now()), s.stored(ODD)));
      Instant now = seen.get(0);
      assertThat(seen.get(1)).isEqualTo(now);
      assertThat(now).isAfterOrEqualTo(seen.get(2)).isBeforeOrEqualTo(ODD);
    }

    @Test
    @DisplayName("rows written at now() read back equal, in the work, the queries and the audit")
    void nowRoundTrips() {
      clock.set(ODD);
      Instant now =
          read(
              SITE,
              s -> {
                Instant t = s.now();
                s.putDeploy(new Deploy(SITE, deployId(1), sha(1), DeployState.ACTIVE, t, t, t, t));
                s.putAlias(PROD, new AliasRow(deployId(1), 1, t));
                s.putTombstone(tombstone(deploy(SITE, 2, DeployState.ACTIVE, t), t, WINDOW));
                s.audit(ACTOR, "tck.at", "x", null, null);
                s.emit(event(SITE, "tck.at", 1));
                return t;
              });
      Deploy expected =
          new Deploy(SITE, deployId(1), sha(1), DeployState.ACTIVE, now, now, now, now);
      assertThat(metadata.findDeploy(SITE, deployId(1))).contains(expected);
      assertThat(metadata.listDeploys(SITE)).containsExactly(expected);
      assertThat(MetadataStoreContract.this.<Deploy>read(SITE, s -> s.deploy(deployId(1))))
          .isEqualTo(expected);
      assertThat(metadata.findAlias(SITE, PROD).orElseThrow().updatedAt()).isEqualTo(now);
      Tombstone t = metadata.findTombstone(SITE, deployId(2)).orElseThrow();
      assertThat(t.deletedAt()).isEqualTo(now);
      assertThat(t.deploy().createdAt()).isEqualTo(now);
      assertThat(metadata.auditLog(SITE, 1).get(0).at()).isEqualTo(now);
      assertThat(drainEvents().get(0).createdAt()).isEqualTo(now);
    }

    @Test
    @DisplayName("stored(x) is what the store keeps: written, it reads back exactly")
    void storedRoundTrips() {
      Instant x = ODD.plus(Duration.ofDays(3));
      Instant y = ODD.minus(Duration.ofDays(3)).plusNanos(999);
      List<Instant> stored =
          read(
              SITE,
              s -> {
                Instant sx = s.stored(x);
                Instant sy = s.stored(y);
                s.putDeploy(
                    new Deploy(SITE, deployId(1), null, DeployState.ACTIVE, sy, sx, sy, sx));
                s.putAlias(PROD, new AliasRow(deployId(1), 1, sx));
                s.putTombstone(
                    new Tombstone(
                        new Deploy(
                            SITE, deployId(2), null, DeployState.PENDING, sy, null, null, null),
                        sy,
                        sx));
                return List.of(sx, sy, s.stored(sx));
              });
      Instant sx = stored.get(0);
      Instant sy = stored.get(1);
      assertThat(stored.get(2)).isEqualTo(sx);
      assertThat(Duration.between(sx, x).abs()).isLessThan(Duration.ofMillis(1));
      assertThat(Duration.between(sy, y).abs()).isLessThan(Duration.ofMillis(1));
      assertThat(metadata.findDeploy(SITE, deployId(1)))
          .contains(new Deploy(SITE, deployId(1), null, DeployState.ACTIVE, sy, sx, sy, sx));
      assertThat(metadata.findAlias(SITE, PROD).orElseThrow().updatedAt()).isEqualTo(sx);
      Tombstone t = metadata.findTombstone(SITE, deployId(2)).orElseThrow();
      assertThat(t.deletedAt()).isEqualTo(sy);
      assertThat(t.expiresAt()).isEqualTo(sx);
      assertThat(t.deploy().createdAt()).isEqualTo(sy);
      // The expiry cutoff is inclusive, at the stored precision.
      assertThat(metadata.listExpiredTombstones(sx, 10)).containsExactly(t);
      assertThat(metadata.listExpiredTombstones(sx.minus(Duration.ofMillis(1)), 10)).isEmpty();
    }

    @Test
    @DisplayName("an instant written as it is is kept as stored(instant)")
    void rawInstantKeptAsStored() {
      // 789 ns: a store that rounds instead of keeping stored(x) gives .123457 back, not .123456.
      Instant x = ODD;
      Instant sx =
          read(
              SITE,
              s -> {
                s.putDeploy(new Deploy(SITE, deployId(1), null, DeployState.ACTIVE, x, x, x, x));
                s.putAlias(PROD, new AliasRow(deployId(1), 1, x));
                s.putTombstone(
                    new Tombstone(
                        new Deploy(
                            SITE, deployId(2), null, DeployState.PENDING, x, null, null, null),
                        x,
                        x));
                return s.stored(x);
              });
      assertThat(metadata.findDeploy(SITE, deployId(1)))
          .contains(new Deploy(SITE, deployId(1), null, DeployState.ACTIVE, sx, sx, sx, sx));
      assertThat(metadata.findAlias(SITE, PROD).orElseThrow().updatedAt()).isEqualTo(sx);
      Tombstone t = metadata.findTombstone(SITE, deployId(2)).orElseThrow();
      assertThat(List.of(t.deletedAt(), t.expiresAt(), t.deploy().createdAt())).containsOnly(sx);
      assertThat(metadata.listExpiredTombstones(sx, 10)).containsExactly(t);
    }
  }

  // ---- order -----------------------------------------------------------------------------------

  @Nested
  @DisplayName("order of what a unit of work appends")
  class Order {

    @Test
    @DisplayName("events are claimed in emission order, carrying their site and payload")
    void eventsInOrder() {
      List<NewEvent> emitted =
          List.of(
              event(SITE, "tck.zz", 1),
              event(SITE, "tck.aa", 2),
              new NewEvent(
                  SITE, "tck.mm", Map.of("k", "o'brien\"; DROP TABLE outbox; -- %s \\ ü 😀\n")),
              event(SITE, "tck.aa", 4),
              event(SITE, "tck.bb", 5));
      write(SITE, s -> emitted.forEach(s::emit));
      write(OTHER_SITE, s -> s.emit(event(OTHER_SITE, "tck.other", 6)));
      List<OutboxEvent> events = drainEvents();
      assertThat(events).hasSize(6);
      List<OutboxEvent> mine = events.stream().filter(e -> e.site().equals(SITE)).toList();
      assertThat(mine)
          .extracting(OutboxEvent::type)
          .containsExactly("tck.zz", "tck.aa", "tck.mm", "tck.aa", "tck.bb");
      for (int i = 0; i < emitted.size(); i++) {
        assertThat(mine.get(i).payload()).isEqualTo(emitted.get(i).payload());
      }
      assertThat(mine).extracting(OutboxEvent::id).isSorted().doesNotHaveDuplicates();
      assertThat(events.stream().filter(e -> e.site().equals(OTHER_SITE)))
          .singleElement()
          .satisfies(e -> assertThat(e.type()).isEqualTo("tck.other"));
    }

    @Test
    @DisplayName("audit entries are listed newest first, ids increasing, fields exact")
    void auditOrder() {
      Actor alice = Actor.of("user:alice");
      write(
          SITE,
          s -> {
            s.audit(ACTOR, "tck.one", "t1", null, "a1");
            s.audit(alice, "tck.two", "alias:production", "b2", null);
            s.audit(ACTOR, "tck.three", "t3", "", "~");
          });
      clock.advance(Duration.ofSeconds(1));
      write(SITE, s -> s.audit(ACTOR, "tck.four", "t4", null, null));
      List<AuditEntry> log = metadata.auditLog(SITE, 10);
      assertThat(log)
          .extracting(AuditEntry::action)
          .containsExactly("tck.four", "tck.three", "tck.two", "tck.one");
      assertThat(log.get(0).id()).isGreaterThan(log.get(1).id());
      assertThat(log.get(1).id()).isGreaterThan(log.get(2).id());
      assertThat(log.get(2).id()).isGreaterThan(log.get(3).id());
      AuditEntry two = log.get(2);
      assertThat(two.actor()).isEqualTo(alice);
      assertThat(two.site()).isEqualTo(SITE);
      assertThat(two.target()).isEqualTo("alias:production");
      assertThat(two.before()).isEqualTo("b2");
      assertThat(two.after()).isNull();
      AuditEntry three = log.get(1);
      assertThat(three.before()).isEmpty();
      assertThat(three.after()).isEqualTo("~");
      assertThat(log.get(0).at()).isAfter(log.get(3).at());
      assertThat(log.get(3).at()).isEqualTo(log.get(1).at());
      assertThat(metadata.auditLog(SITE, 2))
          .extracting(AuditEntry::action)
          .containsExactly("tck.four", "tck.three");
      assertThat(metadata.auditLog(OTHER_SITE, 10)).isEmpty();
    }

    @Test
    @DisplayName("SQL- and script-special characters round-trip unchanged")
    void specialCharacters() {
      Actor nasty = Actor.of("o'brien\"; DROP TABLE deploys; -- {x} %s %% \\ ü 😀 ]] | : ~");
      String target = "'); DROP TABLE audit_log; --\n%_\\%";
      String before =
          "line1\nline2\t\"quoted\" 'single' $1 ?? :name {{x}} ]]--[[ redis.call('FLUSHALL')";
      String after = "ünïcödé 😀 中文 \\u0000 | 12:34 ~ 5:abc";
      write(SITE, s -> s.audit(nasty, "tck.special'\"%", target, before, after));
      AuditEntry entry = metadata.auditLog(SITE, 1).get(0);
      assertThat(entry.actor()).isEqualTo(nasty);
      assertThat(entry.action()).isEqualTo("tck.special'\"%");
      assertThat(entry.target()).isEqualTo(target);
      assertThat(entry.before()).isEqualTo(before);
      assertThat(entry.after()).isEqualTo(after);
      assertThat(metadata.auditLog(SiteId.of("site-a-other"), 10)).isEmpty();
    }
  }

  // ---- queries ---------------------------------------------------------------------------------

  @Nested
  @DisplayName("queries")
  class Queries {

    @Test
    @DisplayName("listDeploys is ordered by id; findDeploy finds each")
    void deploysById() {
      write(
          SITE,
          s -> {
            for (int n : new int[] {3, 1, 5, 2, 4}) {
              s.putDeploy(deploy(SITE, n, DeployState.PENDING, s.now()));
            }
          });
      assertThat(metadata.listDeploys(SITE))
          .extracting(Deploy::id)
          .containsExactly(deployId(1), deployId(2), deployId(3), deployId(4), deployId(5));
      assertThat(metadata.findDeploy(SITE, deployId(4)).orElseThrow().id()).isEqualTo(deployId(4));
      assertThat(metadata.findDeploy(SITE, deployId(6))).isEmpty();
    }

    @Test
    @DisplayName("listAliases is ordered by name and leaves out deleted rows")
    void aliasesByName() {
      write(
          SITE,
          s -> {
            Instant now = s.now();
            s.putDeploy(deploy(SITE, 1, DeployState.ACTIVE, now));
            s.putDeploy(deploy(SITE, 2, DeployState.ACTIVE, now));
            s.putAlias(AliasName.of("b"), new AliasRow(deployId(1), 2, now));
            s.putAlias(AliasName.of("c"), new AliasRow(null, 3, now));
            s.putAlias(AliasName.of("a"), new AliasRow(deployId(2), 1, now));
          });
      Instant now = metadata.findDeploy(SITE, deployId(1)).orElseThrow().createdAt();
      assertThat(metadata.listAliases(SITE))
          .containsExactly(
              new Alias(SITE, AliasName.of("a"), deployId(2), 1, now),
              new Alias(SITE, AliasName.of("b"), deployId(1), 2, now));
      assertThat(metadata.findAlias(SITE, AliasName.of("c"))).isEmpty();
      assertThat(metadata.findAlias(SITE, AliasName.of("b")))
          .contains(new Alias(SITE, AliasName.of("b"), deployId(1), 2, now));
    }

    @Test
    @DisplayName("listTombstones is ordered by deploy id")
    void tombstonesById() {
      write(
          SITE,
          s -> {
            Instant now = s.now();
            for (int n : new int[] {2, 3, 1}) {
              s.putTombstone(
                  tombstone(deploy(SITE, n, DeployState.ACTIVE, now), now, Duration.ofHours(n)));
            }
          });
      assertThat(metadata.listTombstones(SITE))
          .extracting(Tombstone::deployId)
          .containsExactly(deployId(1), deployId(2), deployId(3));
      assertThat(metadata.findTombstone(SITE, deployId(3)).orElseThrow().expiresAt())
          .isEqualTo(clock.instant().plus(Duration.ofHours(3)));
    }

    @Test
    @DisplayName("expired tombstones are listed across sites, oldest expiry first, up to a limit")
    void expiredTombstones() {
      Instant start = clock.instant();
      write(
          SITE,
          s -> {
            s.putTombstone(
                tombstone(deploy(SITE, 1, DeployState.ACTIVE, start), start, Duration.ofHours(10)));
            s.putTombstone(
                tombstone(deploy(SITE, 2, DeployState.ACTIVE, start), start, Duration.ofHours(1)));
          });
      write(
          OTHER_SITE,
          s ->
              s.putTombstone(
                  tombstone(
                      deploy(OTHER_SITE, 3, DeployState.PENDING, start),
                      start,
                      Duration.ofHours(2))));
      Instant now = clock.advance(Duration.ofHours(3));
      List<Tombstone> expired = metadata.listExpiredTombstones(now, 10);
      assertThat(expired).extracting(Tombstone::deployId).containsExactly(deployId(2), deployId(3));
      assertThat(expired).extracting(Tombstone::site).containsExactly(SITE, OTHER_SITE);
      assertThat(expired.get(1))
          .isEqualTo(metadata.findTombstone(OTHER_SITE, deployId(3)).orElseThrow());
      assertThat(metadata.listExpiredTombstones(now, 1))
          .extracting(Tombstone::deployId)
          .containsExactly(deployId(2));
      assertThat(metadata.listExpiredTombstones(start, 10)).isEmpty();
      assertThat(metadata.listExpiredTombstones(start.plus(Duration.ofHours(10)), 10)).hasSize(3);
    }

    @Test
    @DisplayName("listSites is ordered and paged, and leaves out sites with only deleted aliases")
    void sites() {
      for (String name : List.of("c-site", "a-site", "d-site", "b-site")) {
        SiteId site = SiteId.of(name);
        write(site, s -> s.putDeploy(deploy(site, 1, DeployState.PENDING, s.now())));
      }
      SiteId onlyDeleted = SiteId.of("e-site");
      write(onlyDeleted, s -> s.putAlias(PROD, new AliasRow(null, 4, s.now())));
      SiteId onlyTombstone = SiteId.of("f-site");
      write(
          onlyTombstone,
          s ->
              s.putTombstone(
                  tombstone(
                      deploy(onlyTombstone, 1, DeployState.ACTIVE, s.now()), s.now(), WINDOW)));
      SiteId onlyAlias = SiteId.of("g-site");
      write(onlyAlias, s -> s.putAlias(PROD, new AliasRow(deployId(1), 1, s.now())));
      write(SiteId.of("d-site"), SiteRows::removeAll);
      assertThat(metadata.listSites(null, 10))
          .extracting(SiteId::value)
          .containsExactly("a-site", "b-site", "c-site", "f-site", "g-site");
      assertThat(metadata.listSites(null, 2))
          .extracting(SiteId::value)
          .containsExactly("a-site", "b-site");
      assertThat(metadata.listSites(SiteId.of("b-site"), 2))
          .extracting(SiteId::value)
          .containsExactly("c-site", "f-site");
      assertThat(metadata.listSites(SiteId.of("bb"), 10))
          .extracting(SiteId::value)
          .containsExactly("c-site", "f-site", "g-site");
      assertThat(metadata.listSites(SiteId.of("g-site"), 10)).isEmpty();
    }

    @Test
    @DisplayName("queries on an unknown site answer empty")
    void unknownSite() {
      populate(SITE);
      SiteId ghost = SiteId.of("ghost");
      assertThat(metadata.listDeploys(ghost)).isEmpty();
      assertThat(metadata.listAliases(ghost)).isEmpty();
      assertThat(metadata.listTombstones(ghost)).isEmpty();
      assertThat(metadata.findDeploy(ghost, deployId(1))).isEmpty();
      assertThat(metadata.findAlias(ghost, PROD)).isEmpty();
      assertThat(metadata.findTombstone(ghost, deployId(3))).isEmpty();
      assertThat(metadata.auditLog(ghost, 5)).isEmpty();
      assertThat(metadata.listSites(null, 10)).containsExactly(SITE);
    }

    @Test
    @DisplayName("the Rows helpers write rows, audit entries and events as a command would")
    void rowsHelpers() {
      Deploy pending = Rows.pending(metadata, SITE, deployId(1), sha(1));
      assertThat(Rows.pending(metadata, SITE, deployId(1), sha(1))).isEqualTo(pending);
      Alias alias = Rows.alias(metadata, SITE, PROD, deployId(1));
      assertThat(alias.version()).isEqualTo(1);
      assertThat(metadata.findDeploy(SITE, deployId(1)).orElseThrow().isActive()).isTrue();
      Rows.active(metadata, SITE, deployId(2), null);
      assertThat(Rows.alias(metadata, SITE, PROD, deployId(2)).version()).isEqualTo(2);
      assertThat(metadata.findDeploy(SITE, deployId(1)).orElseThrow().releasedAt())
          .isEqualTo(clock.instant());
      Tombstone t = Rows.tombstone(metadata, SITE, deployId(1), WINDOW);
      assertThat(t.expiresAt()).isEqualTo(t.deletedAt().plus(WINDOW));
      assertThat(metadata.findDeploy(SITE, deployId(1))).isEmpty();
      assertThat(metadata.auditLog(SITE, 10))
          .extracting(AuditEntry::action)
          .containsExactly(
              Rows.ACTION_TOMBSTONE,
              Rows.ACTION_ALIAS_MOVE,
              Rows.ACTION_ADOPT,
              Rows.ACTION_ALIAS_MOVE,
              Rows.ACTION_CREATE);
      drainEvents();
      assertThat(Rows.deleteSite(metadata, SITE)).isTrue();
      assertThat(drainEventTypes()).containsExactly("site.deleted");
      assertThat(Rows.deleteSite(metadata, SITE)).isFalse();
      assertThat(drainEvents()).isEmpty();
      Set<SiteId> sites = new HashSet<>(metadata.listSites(null, 10));
      assertThat(sites).isEmpty();
    }
  }
}
