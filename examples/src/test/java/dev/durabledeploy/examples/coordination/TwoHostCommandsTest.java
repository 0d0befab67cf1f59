package dev.durabledeploy.examples.coordination;

import static org.assertj.core.api.Assertions.assertThat;

import dev.durabledeploy.core.metadata.MetadataCommands;
import dev.durabledeploy.spi.Actor;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.Store;
import dev.durabledeploy.spi.exception.AliasDriftException;
import dev.durabledeploy.spi.exception.DeployAliasedException;
import dev.durabledeploy.spi.exception.DeployNotFoundException;
import dev.durabledeploy.spi.metadata.AliasExpectation;
import dev.durabledeploy.store.postgres.PostgresStore;
import dev.durabledeploy.store.valkey.ValkeyStore;
import dev.durabledeploy.testkit.fixtures.PostgresExtension;
import dev.durabledeploy.testkit.fixtures.ValkeyExtension;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Review of issue 23: MetadataCommands used directly by two hosts, each with its own store instance
 * on the same PostgreSQL schema / Valkey namespace, racing with real threads.
 */
class TwoHostCommandsTest {

  @RegisterExtension static final PostgresExtension PG = new PostgresExtension();

  private static final Actor ACTOR = Actor.of("user:review");
  private static final AliasName PROD = AliasName.PRODUCTION;
  private static final AliasName PREVIEW = AliasName.PREVIEW;
  private static final int ROUNDS = 25;

  private static DeployId id(int n) {
    return DeployId.forSha(
        Instant.parse("2026-01-15T10:00:00Z").plusSeconds(n),
        String.format(Locale.ROOT, "%07x", n) + "abc");
  }

  private static String sha(DeployId id) {
    return id.value().substring(id.value().lastIndexOf('-') + 1) + "abc";
  }

  private static PostgresStore pg(String schema) {
    return PostgresStore.builder()
        .jdbcUrl(PG.jdbcUrl())
        .username(PG.username())
        .password(PG.password())
        .schema(schema)
        .poolSize(8)
        .migrateOnStart(true)
        .build();
  }

  private static ValkeyStore valkey(String namespace) {
    return ValkeyStore.builder()
        .uri(ValkeyExtension.server().uri().toString())
        .namespace(namespace)
        .build();
  }

  /** Outcome of one racer: "ok:<value>" or the exception's simple name. */
  private static String run(Callable<Object> body) {
    try {
      return "ok:" + body.call();
    } catch (Exception e) {
      return e.getClass().getSimpleName();
    }
  }

  private static List<String> race(Callable<Object> a, Callable<Object> b) throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(2);
    CyclicBarrier start = new CyclicBarrier(2);
    try {
      Future<String> fa =
          pool.submit(
              () -> {
                start.await(10, TimeUnit.SECONDS);
                return run(a);
              });
      Future<String> fb =
          pool.submit(
              () -> {
                start.await(10, TimeUnit.SECONDS);
                return run(b);
              });
      return List.of(fa.get(60, TimeUnit.SECONDS), fb.get(60, TimeUnit.SECONDS));
    } finally {
      pool.shutdownNow();
    }
  }

  /** Deploys x and z are ACTIVE and unaliased; deploy y is behind preview. */
  private static void setUp(MetadataCommands c, SiteId site, DeployId x, DeployId y, DeployId z) {
    c.createPending(site, z, sha(z), ACTOR);
    c.activate(site, z, AliasName.of("staging"), AliasExpectation.ANY, ACTOR);
    c.createPending(site, y, sha(y), ACTOR);
    c.activate(site, y, PREVIEW, AliasExpectation.ANY, ACTOR);
    c.createPending(site, x, sha(x), ACTOR);
    c.activate(site, x, AliasName.of("staging"), AliasExpectation.ANY, ACTOR);
    c.deleteAlias(site, AliasName.of("staging"), AliasExpectation.ANY, ACTOR);
  }

  private static void races(Store storeA, Store storeB) throws Exception {
    MetadataCommands a = new MetadataCommands(storeA.metadata());
    MetadataCommands b = new MetadataCommands(storeB.metadata());
    for (int round = 0; round < ROUNDS; round++) {
      SiteId site = SiteId.of("race-" + round);
      DeployId x = id(3 * round + 1);
      DeployId y = id(3 * round + 2);
      DeployId z = id(3 * round + 3);
      setUp(a, site, x, y, z);

      // V1: moving production to x on host A vs tombstoning x on host B.
      List<String> v1 =
          race(
              () -> a.moveAlias(site, PROD, x, AliasExpectation.ANY, ACTOR).target(),
              () -> b.tombstone(site, x, Duration.ofDays(7), ACTOR).deployId());
      boolean aliased = v1.get(0).startsWith("ok:");
      boolean tombstoned = v1.get(1).startsWith("ok:");
      assertThat(aliased ^ tombstoned).as("V1 round %d: %s", round, v1).isTrue();
      assertThat(v1)
          .as("V1 round %d", round)
          .containsAnyOf(
              DeployAliasedException.class.getSimpleName(),
              DeployNotFoundException.class.getSimpleName(),
              "DeployStateException");
      if (aliased) {
        assertThat(storeA.metadata().findTombstone(site, x)).isEmpty();
        assertThat(storeB.metadata().findAlias(site, PROD).orElseThrow().target()).isEqualTo(x);
      } else {
        assertThat(storeA.metadata().findAlias(site, PROD)).isEmpty();
        assertThat(storeB.metadata().findDeploy(site, x)).isEmpty();
      }

      // Alias CAS: both hosts move preview from its version; exactly one wins.
      long version = storeA.metadata().findAlias(site, PREVIEW).orElseThrow().version();
      DeployId target = z;
      List<String> cas =
          race(
              () -> a.moveAlias(site, PREVIEW, target, AliasExpectation.version(version), ACTOR),
              () -> b.deleteAlias(site, PREVIEW, AliasExpectation.version(version), ACTOR));
      long wins = cas.stream().filter(o -> o.startsWith("ok:")).count();
      assertThat(wins).as("CAS round %d: %s", round, cas).isEqualTo(1);
      assertThat(cas).as("CAS round %d", round).contains(AliasDriftException.class.getSimpleName());

      // Restore vs purge of a tombstone (y, after preview left it, or x).
      DeployId dead = aliased ? y : x;
      if (storeA.metadata().findTombstone(site, dead).isEmpty()) {
        storeA.metadata().listAliases(site).stream()
            .filter(al -> al.target().equals(dead))
            .forEach(al -> a.deleteAlias(site, al.name(), AliasExpectation.ANY, ACTOR));
        a.tombstone(site, dead, Duration.ofDays(7), ACTOR);
      }
      List<String> rp =
          race(() -> a.restore(site, dead, ACTOR).id(), () -> b.purgeTombstone(site, dead, ACTOR));
      boolean restored = rp.get(0).startsWith("ok:");
      boolean purged = rp.get(1).equals("ok:true");
      assertThat(restored ^ purged).as("restore/purge round %d: %s", round, rp).isTrue();
      assertThat(storeA.metadata().findDeploy(site, dead).isPresent()).isEqualTo(restored);
      assertThat(storeB.metadata().findTombstone(site, dead)).isEmpty();
    }
  }

  @Test
  void postgresTwoHosts() throws Exception {
    String schema = "review_two_hosts";
    try (PostgresStore hostA = pg(schema);
        PostgresStore hostB = pg(schema)) {
      races(hostA, hostB);
    }
  }

  @Test
  void valkeyTwoHosts() throws Exception {
    String namespace = ValkeyExtension.newNamespace();
    try (ValkeyStore hostA = valkey(namespace);
        ValkeyStore hostB = valkey(namespace)) {
      races(hostA, hostB);
    }
  }
}
