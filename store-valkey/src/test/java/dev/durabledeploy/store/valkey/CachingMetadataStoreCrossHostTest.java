package dev.durabledeploy.store.valkey;

import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.metadata.AliasRow;
import dev.durabledeploy.spi.metadata.MetadataStore;
import dev.durabledeploy.spi.metadata.RowSelection;
import dev.durabledeploy.store.memory.InMemoryStore;
import dev.durabledeploy.testkit.MutableClock;
import dev.durabledeploy.testkit.fixtures.ValkeyExtension;
import dev.durabledeploy.testkit.tck.Rows;
import java.time.Duration;
import java.util.List;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Review of issue 23: the cache in front of a store, on two hosts. */
class CachingMetadataStoreCrossHostTest {

  @RegisterExtension static final ValkeyExtension VALKEY = new ValkeyExtension();

  private static final SiteId SITE = SiteId.of("site-a");
  private static final AliasName PROD = AliasName.PRODUCTION;

  private static ValkeyStore host(String namespace) {
    return ValkeyStore.builder().uri(VALKEY.uri().toString()).namespace(namespace).build();
  }

  // Another host's cached copy is dropped when the change message reaches it: reads there are
  // eventually consistent (documented on CachingMetadataStore and in docs/valkey.md), and the
  // window is the bus's delivery time, not the TTL.
  @Test
  void anotherHostSeesAWriteOnceItsMessageArrives() {
    MutableClock clock = new MutableClock();
    MetadataStore db = new InMemoryStore(clock).metadata();
    DeployId first = DeployId.forSha(clock.instant().plusSeconds(1), "abc0001");
    DeployId second = DeployId.forSha(clock.instant().plusSeconds(2), "abc0002");
    Rows.pending(db, SITE, first);
    Rows.alias(db, SITE, PROD, first);
    Rows.active(db, SITE, second, "abc0002");
    String ns = ValkeyExtension.newNamespace();
    int trials = 20;
    try (ValkeyStore a = host(ns);
        ValkeyStore b = host(ns)) {
      CachingMetadataStore cacheA = a.cached(db);
      CachingMetadataStore cacheB = b.cached(db);
      for (int i = 0; i < trials; i++) {
        DeployId want = i % 2 == 0 ? second : first;
        cacheB.listAliases(SITE); // B has the site cached
        cacheA.inSite(
            "alias.move",
            SITE,
            RowSelection.of(List.of(want), List.of()),
            s -> {
              AliasRow row = s.aliases().get(PROD);
              s.putAlias(PROD, new AliasRow(want, row.version() + 1, s.now()));
              return null;
            });
        Awaitility.await("host B sees host A's write")
            .atMost(Duration.ofSeconds(2))
            .until(() -> cacheB.findAlias(SITE, PROD).orElseThrow().target().equals(want));
      }
    }
  }
}
