package dev.durabledeploy.store.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import dev.durabledeploy.spi.Store;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.spi.metadata.DeployState;
import dev.durabledeploy.spi.metadata.RowSelection;
import dev.durabledeploy.testkit.MutableClock;
import dev.durabledeploy.testkit.fixtures.PostgresExtension;
import dev.durabledeploy.testkit.tck.StoreFixture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Review of issue 23: units of work on the PostgreSQL store, used as a host or adapter would. */
class PgMetadataStoreBreaksTest extends StoreFixture {

  @RegisterExtension static final PostgresExtension PG = new PostgresExtension();

  @Override
  protected Store createStore(MutableClock clock) {
    return PgStores.fresh(PG, clock);
  }

  private Deploy deploy(int n) {
    return new Deploy(SITE, deployId(n), sha(n), DeployState.PENDING, clock.instant(), null, null);
  }

  // HELD (not a break): a unit of work nested in another on the same thread joins the outer
  // transaction (Jdbi hands the thread's open handle to the inner call; the advisory lock is
  // re-entrant in one session), so an outer failure rolls the inner work back too, and a query
  // called inside the work sees the work's own uncommitted writes (as in memory), which is the one
  // part that contradicts MetadataStore#inSite ("queries see either none or all of its writes").
  // Neither is documented; Valkey behaves differently (ValkeyMetadataStoreBreaksTest).
  @Test
  void nestedUnitOfWorkJoinsTheOuterTransaction() {
    boolean[] querySaw = new boolean[1];
    try {
      store
          .metadata()
          .inSite(
              "review.outer",
              SITE,
              RowSelection.WHOLE_SITE,
              outer -> {
                outer.putDeploy(deploy(1));
                querySaw[0] = store.metadata().findDeploy(SITE, deployId(1)).isPresent();
                store
                    .metadata()
                    .inSite(
                        "review.inner",
                        SITE,
                        RowSelection.WHOLE_SITE,
                        inner -> {
                          inner.audit(ACTOR, "review.inner", "x", null, null);
                          return null;
                        });
                throw new IllegalStateException("outer fails");
              });
    } catch (IllegalStateException expected) {
      // the outer work's own failure
    }
    assertThat(querySaw[0]).as("a query inside the work saw its uncommitted write").isTrue();
    assertThat(store.metadata().findDeploy(SITE, deployId(1))).isEmpty();
    assertThat(store.metadata().auditLog(SITE, 10)).isEmpty();
  }

  // BREAKS: SiteRows#audit takes any String, and the in-memory and Valkey stores keep a NUL
  // character, but PostgreSQL text cannot hold one: the whole unit of work (here with a deploy)
  // fails with a non-transient DurableDeployException ("invalid byte sequence for encoding
  // UTF8: 0x00", SQLState 22021). The TCK's specialCharacters case writes "\\u0000" (a backslash
  // and five letters), not a NUL, so it never meets this. Either SiteRows documents the allowed
  // text or the store cleans it (Sql.clean exists for exactly this, used elsewhere).
  @Test
  void auditTextWithNulFailsTheUnitOfWork() {
    store
        .metadata()
        .inSite(
            "review.nul",
            SITE,
            RowSelection.WHOLE_SITE,
            s -> {
              s.putDeploy(deploy(1));
              s.audit(ACTOR, "review.nul", "a\u0000b", "before\u0000", null);
              return null;
            });
    assertThat(store.metadata().findDeploy(SITE, deployId(1))).isPresent();
  }
}
