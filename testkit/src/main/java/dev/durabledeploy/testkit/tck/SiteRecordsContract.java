package dev.durabledeploy.testkit.tck;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.spi.metadata.DeployState;
import dev.durabledeploy.spi.metadata.MetadataStore;
import dev.durabledeploy.spi.metadata.RowSelection;
import dev.durabledeploy.spi.metadata.Site;
import dev.durabledeploy.spi.metadata.SiteProfile;
import dev.durabledeploy.spi.metadata.SiteRows;
import dev.durabledeploy.spi.metadata.SiteState;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Function;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The contract of a {@link MetadataStore} for site registry records ({@link SiteRows#site()},
 * {@link SiteRows#putSite}, {@link MetadataStore#findSite}, {@link
 * MetadataStore#listRegisteredSites}, {@link MetadataStore#listExpiredSites}): the record is part
 * of the unit of work like any row (atomic, rolled back, removed by {@code removeAll}), it reads
 * back exactly as written (profile text, labels, times at the store's precision), and the queries
 * page and filter as documented.
 */
public abstract class SiteRecordsContract extends StoreFixture {

  private static final Instant ODD = Instant.parse("2026-03-04T05:06:07.123456789Z");

  protected MetadataStore metadata;

  @BeforeEach
  void metadata() {
    metadata = store.metadata();
  }

  private void write(SiteId site, Consumer<SiteRows> work) {
    metadata.inSite(
        "tck.write",
        site,
        RowSelection.WHOLE_SITE,
        s -> {
          work.accept(s);
          return null;
        });
  }

  private <T> T read(SiteId site, Function<SiteRows, T> work) {
    return metadata.inSite("tck.read", site, RowSelection.of(List.of(), List.of()), work);
  }

  private static SiteProfile profile(String name) {
    return new SiteProfile(name, "team:web", Map.of("env", "prod", "tier", "1"));
  }

  /** An ACTIVE record of {@code site} at {@code at}, version 1. */
  private static Site active(SiteId site, Instant at) {
    return new Site(site, profile("Site " + site), SiteState.ACTIVE, at, at, null, 1);
  }

  private Site register(SiteId site) {
    return metadata.inSite(
        "tck.register",
        site,
        RowSelection.of(List.of(), List.of()),
        s -> {
          Site r = active(site, s.now());
          s.putSite(r);
          return r;
        });
  }

  private static SiteId site(int n) {
    return SiteId.of(String.format(Locale.ROOT, "site-%03d", n));
  }

  @Test
  @DisplayName("an unregistered site has no record, in a work and in findSite")
  void unregistered() {
    assertThat(this.<Site>read(SITE, SiteRows::site)).isNull();
    assertThat(metadata.findSite(SITE)).isEmpty();
    assertThat(metadata.listRegisteredSites(null, 10)).isEmpty();
  }

  @Test
  @DisplayName("a record reads back equal in the same work, the next work and findSite")
  void roundTrip() {
    Site written =
        read(
            SITE,
            s -> {
              Site r = active(SITE, s.now());
              s.putSite(r);
              assertThat(s.site()).isEqualTo(r);
              return r;
            });
    assertThat(this.<Site>read(SITE, SiteRows::site)).isEqualTo(written);
    assertThat(metadata.findSite(SITE)).contains(written);
    assertThat(metadata.findSite(OTHER_SITE)).isEmpty();
  }

  @Test
  @DisplayName("every state, profile text with unicode and quotes, many labels, round-trip")
  void everyField() {
    clock.set(ODD);
    Map<String, String> labels = new LinkedHashMap<>();
    for (int i = SiteProfile.MAX_LABELS - 1; i >= 0; i--) {
      labels.put("k" + i + "/x.y_z-" + i, i == 3 ? "" : "v\"'\\ é 日本 🚀 " + i);
    }
    SiteProfile profile =
        new SiteProfile("Ünïcode \"site\" 'name' \\ {json} 🚀", "user:o'brien@example.com", labels);
    for (SiteState state : SiteState.values()) {
      List<Site> written = new ArrayList<>();
      write(
          SITE,
          s -> {
            Instant now = s.now();
            Instant purge =
                state == SiteState.TRASHED ? s.stored(now.plus(Duration.ofDays(7))) : null;
            Site r = new Site(SITE, profile, state, now, now, purge, 41 + state.ordinal());
            s.putSite(r);
            written.add(r);
          });
      Site back = metadata.findSite(SITE).orElseThrow();
      assertThat(back).isEqualTo(written.get(0));
      assertThat(back.profile().labels()).containsExactlyEntriesOf(profile.labels());
    }
  }

  @Test
  @DisplayName("a work that throws leaves the record as it was, new or replaced")
  void rollback() {
    assertThatThrownBy(
            () ->
                write(
                    SITE,
                    s -> {
                      s.putSite(active(SITE, s.now()));
                      throw new IllegalStateException("boom");
                    }))
        .hasMessage("boom");
    assertThat(metadata.findSite(SITE)).isEmpty();
    Site first = register(SITE);
    assertThatThrownBy(
            () ->
                write(
                    SITE,
                    s -> {
                      s.putSite(first.withState(SiteState.PURGING, s.now(), null));
                      throw new IllegalStateException("boom");
                    }))
        .hasMessage("boom");
    assertThat(metadata.findSite(SITE)).contains(first);
  }

  @Test
  @DisplayName("removeAll removes the record; a record put after removeAll is kept")
  void removeAll() {
    register(SITE);
    write(
        SITE,
        s -> {
          s.putDeploy(
              new Deploy(
                  SITE, deployId(1), sha(1), DeployState.ACTIVE, s.now(), s.now(), null, null));
        });
    write(SITE, SiteRows::removeAll);
    assertThat(metadata.findSite(SITE)).isEmpty();
    assertThat(metadata.listRegisteredSites(null, 10)).isEmpty();

    register(SITE);
    Site purging =
        metadata.inSite(
            "tck.purge",
            SITE,
            RowSelection.WHOLE_SITE,
            s -> {
              Site r = s.site().withState(SiteState.PURGING, s.now(), null);
              s.removeAll();
              assertThat(s.site()).isNull();
              s.putSite(r);
              return r;
            });
    assertThat(metadata.findSite(SITE)).contains(purging);
    assertThat(metadata.listDeploys(SITE)).isEmpty();
  }

  @Test
  @DisplayName("a record of another site is refused")
  void foreignRecord() {
    assertThatThrownBy(() -> write(SITE, s -> s.putSite(active(OTHER_SITE, s.now()))))
        .isInstanceOf(IllegalArgumentException.class);
    assertThat(metadata.findSite(OTHER_SITE)).isEmpty();
    assertThat(metadata.findSite(SITE)).isEmpty();
  }

  @Test
  @DisplayName("a record does not make the site appear in listSites, which lists content")
  void recordIsNotContent() {
    register(SITE);
    assertThat(metadata.listSites(null, 10)).isEmpty();
    assertThat(metadata.listRegisteredSites(null, 10)).extracting(Site::id).containsExactly(SITE);
  }

  @Test
  @DisplayName("listRegisteredSites pages by id, starting after the cursor, every state included")
  void paging() {
    List<SiteId> ids = new ArrayList<>();
    for (int n = 25; n >= 1; n--) {
      SiteId id = site(n);
      register(id);
      ids.add(0, id);
    }
    write(
        site(7), s -> s.putSite(s.site().withState(SiteState.TRASHED, s.now(), s.stored(s.now()))));
    List<SiteId> seen = new ArrayList<>();
    SiteId after = null;
    while (true) {
      List<Site> page = metadata.listRegisteredSites(after, 10);
      page.forEach(r -> seen.add(r.id()));
      if (page.size() < 10) {
        break;
      }
      after = page.get(page.size() - 1).id();
    }
    assertThat(seen).containsExactlyElementsOf(ids);
    assertThat(metadata.listRegisteredSites(site(24), 10))
        .extracting(Site::id)
        .containsExactly(site(25));
    assertThat(metadata.listRegisteredSites(site(25), 10)).isEmpty();
    assertThat(metadata.listRegisteredSites(SiteId.of("site-010x"), 2))
        .extracting(Site::id)
        .containsExactly(site(11), site(12));
  }

  @Test
  @DisplayName("listExpiredSites: trashed sites due by the cutoff (inclusive), oldest first")
  void expired() {
    clock.set(ODD);
    Instant base = ODD;
    int[] hours = {5, 1, 3, 3, 9};
    List<Site> trashed = new ArrayList<>();
    for (int i = 0; i < hours.length; i++) {
      SiteId id = site(i + 1);
      register(id);
      int h = hours[i];
      write(
          id,
          s ->
              s.putSite(
                  s.site()
                      .withState(
                          SiteState.TRASHED, s.now(), s.stored(base.plus(Duration.ofHours(h))))));
      trashed.add(metadata.findSite(id).orElseThrow());
    }
    register(site(50));
    write(site(50), s -> s.putSite(s.site().withState(SiteState.PURGING, s.now(), null)));
    Instant three = trashed.get(2).purgeAfter();
    assertThat(metadata.listExpiredSites(three, 10))
        .containsExactly(trashed.get(1), trashed.get(2), trashed.get(3));
    assertThat(metadata.listExpiredSites(three.minus(Duration.ofMillis(1)), 10))
        .containsExactly(trashed.get(1));
    assertThat(metadata.listExpiredSites(three, 2)).containsExactly(trashed.get(1), trashed.get(2));
    assertThat(metadata.listExpiredSites(base.plus(Duration.ofDays(1)), 10))
        .containsExactly(
            trashed.get(1), trashed.get(2), trashed.get(3), trashed.get(0), trashed.get(4));
    // Restored: no longer due.
    write(site(2), s -> s.putSite(s.site().withState(SiteState.ACTIVE, s.now(), null)));
    assertThat(metadata.listExpiredSites(three, 10))
        .containsExactly(trashed.get(2), trashed.get(3));
  }

  @Test
  @DisplayName("times are kept at the store's precision: stored(now) and updates read back exactly")
  void precision() {
    clock.set(ODD);
    Site written =
        read(
            SITE,
            s -> {
              Instant now = s.now();
              Site r =
                  new Site(
                      SITE,
                      profile("x"),
                      SiteState.TRASHED,
                      s.stored(ODD.minusNanos(1)),
                      now,
                      s.stored(ODD.plus(Duration.ofDays(3)).plusNanos(789)),
                      3);
              s.putSite(r);
              return r;
            });
    assertThat(metadata.findSite(SITE)).contains(written);
    assertThat(metadata.listExpiredSites(written.purgeAfter(), 1)).containsExactly(written);
  }

  @Test
  @DisplayName("queries and units of work of other sites do not see or touch the record")
  void separate() {
    Site a = register(SITE);
    write(OTHER_SITE, SiteRows::removeAll);
    assertThat(this.<Site>read(OTHER_SITE, SiteRows::site)).isNull();
    assertThat(metadata.findSite(SITE)).contains(a);
  }

  @Test
  @DisplayName("a record written in a read-only selection (no deploys named) is still committed")
  void anySelection() {
    metadata.inSite(
        "tck.narrow",
        SITE,
        RowSelection.of(List.of(deployId(1)), List.of()),
        s -> {
          s.putSite(active(SITE, s.now()));
          return null;
        });
    assertThat(metadata.findSite(SITE)).isPresent();
  }

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
