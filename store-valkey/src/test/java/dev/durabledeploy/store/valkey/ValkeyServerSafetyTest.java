package dev.durabledeploy.store.valkey;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.JobKey;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.exception.ConfigurationException;
import dev.durabledeploy.spi.exception.SiteBusyException;
import dev.durabledeploy.spi.exception.TransientStoreException;
import dev.durabledeploy.spi.lock.SiteLock;
import dev.durabledeploy.spi.outbox.NewEvent;
import dev.durabledeploy.spi.outbox.OutboxEvent;
import dev.durabledeploy.spi.outbox.OutboxStats;
import dev.durabledeploy.testkit.MutableClock;
import dev.durabledeploy.testkit.fixtures.ValkeyExtension;
import dev.durabledeploy.testkit.fixtures.ValkeyServer;
import dev.durabledeploy.testkit.tck.Rows;
import io.lettuce.core.KillArgs;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisCommandExecutionException;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.output.StatusOutput;
import io.lettuce.core.protocol.CommandArgs;
import io.lettuce.core.protocol.CommandType;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * What the store does on a server that could lose its keys, that hides its settings, that restricts
 * the store's user, that runs out of memory, or that lost keys behind the store's back. Tests that
 * change server settings run on a dedicated server of their own, never the shared one.
 */
@DisplayName("ValkeyStore on unsafe, restricted or damaged servers")
class ValkeyServerSafetyTest {

  @RegisterExtension static final ValkeyExtension VALKEY = new ValkeyExtension();

  private static final SiteId SITE = SiteId.of("site-a");
  private static final SiteId OTHER = SiteId.of("site-b");
  private static final DeployId DEPLOY = DeployId.of("20260115-100000-abc1234");

  /** A server of the test's own, with an admin connection on it. */
  static final class Dedicated implements AutoCloseable {
    final ValkeyServer server;
    final RedisClient client;
    final StatefulRedisConnection<String, String> connection;

    Dedicated(String... settings) {
      server = ValkeyServer.startDedicated(settings);
      client = RedisClient.create(server.uri().toString());
      connection = client.connect();
    }

    RedisCommands<String, String> admin() {
      return connection.sync();
    }

    String uri() {
      return server.uri().toString();
    }

    /** The URI of an ACL user of this server. */
    String uriOf(String user, String password) {
      return "redis://" + user + ":" + password + "@127.0.0.1:" + server.uri().getPort();
    }

    /** {@code ACL SETUSER <words...>}, as an operator would type it. */
    void acl(String... words) {
      CommandArgs<String, String> args = new CommandArgs<>(StringCodec.UTF8).add("SETUSER");
      for (String w : words) {
        args.add(w);
      }
      connection.sync().dispatch(CommandType.ACL, new StatusOutput<>(StringCodec.UTF8), args);
    }

    @Override
    public void close() {
      connection.close();
      client.shutdown();
      server.stop();
    }
  }

  private static ValkeyStore.Builder builder(String uri) {
    return ValkeyStore.builder().uri(uri).namespace(ValkeyExtension.newNamespace());
  }

  @Nested
  @TestInstance(TestInstance.Lifecycle.PER_CLASS)
  @DisplayName("the eviction policy, read at start")
  class EvictionPolicy {

    Dedicated valkey;

    @BeforeAll
    void start() {
      valkey = new Dedicated();
    }

    @AfterEach
    void reset() {
      valkey.admin().configSet("maxmemory", "0");
      valkey.admin().configSet("maxmemory-policy", "noeviction");
      valkey.admin().flushall();
    }

    @AfterAll
    void stop() {
      valkey.close();
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(
        strings = {
          "volatile-lru",
          "volatile-lfu",
          "volatile-random",
          "volatile-ttl",
          "allkeys-lru",
          "allkeys-lfu",
          "allkeys-random"
        })
    @DisplayName("a policy that evicts keys is refused, naming the setting, the risk and the fix")
    void evictingPolicyRefused(String policy) {
      valkey.admin().configSet("maxmemory-policy", policy);
      assertThatThrownBy(() -> builder(valkey.uri()).build())
          .isInstanceOf(ConfigurationException.class)
          .hasMessageContaining("maxmemory-policy")
          .hasMessageContaining(policy)
          .hasMessageContaining(policy.startsWith("volatile") ? "site lock" : "outbox event")
          .hasMessageContaining("noeviction")
          .hasMessageContaining("allowEvictionPolicy")
          .hasMessageNotContaining(valkey.server.password())
          .satisfies(
              e ->
                  assertThat(((ConfigurationException) e).property())
                      .isEqualTo("maxmemory-policy"));
    }

    @Test
    @DisplayName("noeviction is accepted")
    void noevictionAccepted() {
      try (ValkeyStore store = builder(valkey.uri()).build()) {
        Rows.pending(store.metadata(), SITE, DEPLOY);
        assertThat(store.metadata().findDeploy(SITE, DEPLOY)).isPresent();
      }
    }

    @Test
    @DisplayName(
        "proof of the risk: under volatile-lru a full server evicts a held site lock first, and"
            + " a second host takes the site while the first still holds it")
    void volatileLruEvictsAHeldLock() {
      valkey.admin().configSet("maxmemory-policy", "volatile-lru");
      String namespace = ValkeyExtension.newNamespace();
      try (ValkeyStore first = unsafe(namespace);
          ValkeyStore second = unsafe(namespace)) {
        assertThat(first.startupWarnings())
            .anySatisfy(
                w ->
                    assertThat(w)
                        .contains("volatile-lru", "allowEvictionPolicy(true)", "site lock"));
        SiteLock held = first.siteLocks().acquire(SITE, Duration.ZERO);
        assertThatThrownBy(() -> second.siteLocks().acquire(SITE, Duration.ZERO))
            .isInstanceOf(SiteBusyException.class);
        String lockKey = new Keys(namespace).lock(SITE);
        fillUntilEvictedOrFull(lockKey);
        assertThat(valkey.admin().exists(lockKey)).as("the lock key was evicted").isZero();
        valkey.admin().configSet("maxmemory", "0");
        try (SiteLock taken = second.siteLocks().acquire(SITE, Duration.ZERO)) {
          assertThat(taken.isHeld()).isTrue();
          assertThat(held.isHeld()).as("the first host still believes it holds the site").isTrue();
        }
      }
    }

    /** A store on the dedicated server that accepts its eviction policy. */
    private ValkeyStore unsafe(String namespace) {
      return ValkeyStore.builder()
          .uri(valkey.uri())
          .namespace(namespace)
          .lockTtl(Duration.ofMinutes(5))
          .allowEvictionPolicy(true)
          .build();
    }

    @Test
    @DisplayName(
        "allowEvictionPolicy(true) starts on allkeys-lru and warns of lost rows and events")
    void overrideWarns() {
      valkey.admin().configSet("maxmemory-policy", "allkeys-lru");
      try (ValkeyStore store = unsafe(ValkeyExtension.newNamespace())) {
        assertThat(store.startupWarnings())
            .anySatisfy(w -> assertThat(w).contains("allkeys-lru", "outbox event"));
        Rows.pending(store.metadata(), SITE, DEPLOY);
      }
    }

    /** Caps memory just above what is used and writes keys without a TTL until the cap bites. */
    private void fillUntilEvictedOrFull(String watched) {
      String info = valkey.admin().info("memory");
      long used =
          info.lines()
              .filter(l -> l.startsWith("used_memory:"))
              .mapToLong(l -> Long.parseLong(l.substring("used_memory:".length()).trim()))
              .findFirst()
              .orElseThrow();
      valkey.admin().configSet("maxmemory", Long.toString(used + 512 * 1024));
      String value = "x".repeat(8 * 1024);
      for (int i = 0; i < 10_000 && valkey.admin().exists(watched) == 1; i++) {
        try {
          valkey.admin().set("filler:" + i, value);
        } catch (RedisCommandExecutionException full) {
          assertThat(full.getMessage()).startsWith("OOM");
          return;
        }
      }
    }
  }

  @Nested
  @DisplayName("persistence, read at start: warned about, never refused")
  class Persistence {

    @Test
    @DisplayName("no persistence at all (the test fixture's): a warning that a restart loses all")
    void none() {
      try (ValkeyStore store = builder(VALKEY.uri().toString()).build()) {
        assertThat(store.startupWarnings())
            .singleElement()
            .satisfies(w -> assertThat(w).contains("no persistence", "appendonly yes"));
      }
    }

    @Test
    @DisplayName("RDB snapshots only: a warning that a crash loses writes since the last one")
    void snapshotsOnly(@TempDir Path dir) {
      try (Dedicated valkey = new Dedicated("dir " + dir, "save 3600 1");
          ValkeyStore store = builder(valkey.uri()).build()) {
        assertThat(store.startupWarnings())
            .singleElement()
            .satisfies(w -> assertThat(w).contains("RDB snapshots", "3600 1", "appendonly yes"));
      }
    }

    @Test
    @DisplayName("appendonly yes with appendfsync always or everysec: no warning")
    void appendOnly(@TempDir Path dir) {
      try (Dedicated valkey = new Dedicated("dir " + dir, "appendonly yes", "appendfsync always")) {
        try (ValkeyStore store = builder(valkey.uri()).build()) {
          assertThat(store.startupWarnings()).isEmpty();
        }
        valkey.admin().configSet("appendfsync", "everysec");
        try (ValkeyStore store = builder(valkey.uri()).build()) {
          assertThat(store.startupWarnings()).isEmpty();
        }
        valkey.admin().configSet("appendfsync", "no");
        try (ValkeyStore store = builder(valkey.uri()).build()) {
          assertThat(store.startupWarnings())
              .singleElement()
              .satisfies(w -> assertThat(w).contains("appendfsync no"));
        }
      }
    }
  }

  @Nested
  @DisplayName("a server that does not let the store read its settings")
  class HiddenSettings {

    @Test
    @DisplayName("CONFIG renamed away (as managed services do): refused, naming the override")
    void configRenamed() {
      try (Dedicated valkey = new Dedicated("rename-command CONFIG \"\"")) {
        assertThatThrownBy(() -> builder(valkey.uri()).build())
            .isInstanceOf(ConfigurationException.class)
            .hasMessageContaining("maxmemory-policy")
            .hasMessageContaining("CONFIG GET")
            .hasMessageContaining("noeviction")
            .hasMessageContaining("allowUnverifiedServerSettings")
            .hasMessageNotContaining(valkey.server.password());
      }
    }

    @Test
    @DisplayName("allowUnverifiedServerSettings(true) starts there and warns what it cannot check")
    void configRenamedOverridden() {
      try (Dedicated valkey = new Dedicated("rename-command CONFIG \"\"");
          ValkeyStore store = builder(valkey.uri()).allowUnverifiedServerSettings(true).build()) {
        assertThat(store.startupWarnings())
            .singleElement()
            .satisfies(w -> assertThat(w).contains("CONFIG GET", "noeviction", "appendonly yes"));
        Rows.pending(store.metadata(), SITE, DEPLOY);
        assertThat(store.metadata().findDeploy(SITE, DEPLOY)).isPresent();
      }
    }

    @Test
    @DisplayName("a user without CONFIG GET in its ACL: refused, naming the override")
    void configForbiddenByAcl() {
      try (Dedicated valkey = new Dedicated()) {
        valkey.acl("noconfig", "on", ">pw-noconfig", "~*", "&*", "+@all", "-config");
        assertThatThrownBy(() -> builder(valkey.uriOf("noconfig", "pw-noconfig")).build())
            .isInstanceOf(ConfigurationException.class)
            .hasMessageContaining("CONFIG GET")
            .hasMessageContaining("allowUnverifiedServerSettings")
            .hasMessageNotContaining("pw-noconfig");
      }
    }
  }

  @Nested
  @DisplayName("an outbox event hash that is gone (evicted, or deleted by hand)")
  class MissingEvent {

    final MutableClock clock = new MutableClock();

    private ValkeyStore store(String namespace) {
      return ValkeyStore.builder()
          .uri(VALKEY.uri().toString())
          .namespace(namespace)
          .clock(clock)
          .build();
    }

    private void delete(String namespace, long id) {
      try (RedisClient client = RedisClient.create(VALKEY.uri().toString());
          StatefulRedisConnection<String, String> c = client.connect()) {
        assertThat(c.sync().del(new Keys(namespace).outbox("ev:" + id))).isEqualTo(1);
      }
    }

    @Test
    @DisplayName("is skipped: the site's later events and other sites' events are still claimed")
    void skippedAtTheHead() {
      String namespace = ValkeyExtension.newNamespace();
      try (ValkeyStore store = store(namespace)) {
        long lost = store.outbox().append(new NewEvent(SITE, "e.one", Map.of()));
        long later = store.outbox().append(new NewEvent(SITE, "e.two", Map.of()));
        long other = store.outbox().append(new NewEvent(OTHER, "e.three", Map.of()));
        delete(namespace, lost);
        List<OutboxEvent> claimed = store.outbox().claim("relay", 10, Duration.ofMinutes(1));
        assertThat(claimed).extracting(OutboxEvent::id).containsExactly(later, other);
        assertThat(store.outbox().ack("relay", List.of(later, other))).isEqualTo(2);
        assertThat(store.outbox().stats().undelivered()).isZero();
        assertThat(store.outbox().claim("relay", 10, Duration.ofMinutes(1))).isEmpty();
        assertThat(store.lostOutboxEvents()).isEqualTo(1);
      }
    }

    @Test
    @DisplayName("is skipped in the middle of a site's queue too")
    void skippedInTheMiddle() {
      String namespace = ValkeyExtension.newNamespace();
      try (ValkeyStore store = store(namespace)) {
        long first = store.outbox().append(new NewEvent(SITE, "e.one", Map.of()));
        long lost = store.outbox().append(new NewEvent(SITE, "e.two", Map.of()));
        long third = store.outbox().append(new NewEvent(SITE, "e.three", Map.of()));
        delete(namespace, lost);
        assertThat(store.outbox().claim("relay", 10, Duration.ofMinutes(1)))
            .extracting(OutboxEvent::id)
            .containsExactly(first, third);
      }
    }

    @Test
    @DisplayName("under a claim whose lease ran out: the next claim skips it and goes on")
    void skippedAfterLeaseExpiry() {
      String namespace = ValkeyExtension.newNamespace();
      try (ValkeyStore store = store(namespace)) {
        long lost = store.outbox().append(new NewEvent(SITE, "e.one", Map.of()));
        long later = store.outbox().append(new NewEvent(SITE, "e.two", Map.of()));
        assertThat(store.outbox().claim("dead-relay", 10, Duration.ofSeconds(30))).hasSize(2);
        delete(namespace, lost);
        clock.advance(Duration.ofSeconds(31));
        assertThat(store.outbox().claim("relay", 10, Duration.ofMinutes(1)))
            .extracting(OutboxEvent::id)
            .containsExactly(later);
      }
    }

    @Test
    @DisplayName("whose fail() put its site in the delayed set: the site comes back when due")
    void skippedAfterFail() {
      String namespace = ValkeyExtension.newNamespace();
      try (ValkeyStore store = store(namespace)) {
        long lost = store.outbox().append(new NewEvent(SITE, "e.one", Map.of()));
        long later = store.outbox().append(new NewEvent(SITE, "e.two", Map.of()));
        assertThat(store.outbox().claim("relay", 1, Duration.ofSeconds(30))).hasSize(1);
        assertThat(store.outbox().fail("relay", lost, "boom", clock.instant().plusSeconds(10)))
            .isTrue();
        delete(namespace, lost);
        clock.advance(Duration.ofSeconds(11));
        assertThat(store.outbox().claim("relay", 10, Duration.ofMinutes(1)))
            .extracting(OutboxEvent::id)
            .containsExactly(later);
      }
    }

    @Test
    @DisplayName("does not blank the stats: the oldest undelivered time is the oldest one left")
    void statsSkipIt() {
      String namespace = ValkeyExtension.newNamespace();
      try (ValkeyStore store = store(namespace)) {
        long lost = store.outbox().append(new NewEvent(SITE, "e.one", Map.of()));
        clock.advance(Duration.ofSeconds(5));
        Instant laterAt = clock.instant();
        store.outbox().append(new NewEvent(SITE, "e.two", Map.of()));
        delete(namespace, lost);
        OutboxStats stats = store.outbox().stats();
        assertThat(stats.oldestUndeliveredAt()).isEqualTo(laterAt);
      }
    }
  }

  @Nested
  @DisplayName("keys of a site: bounded, and gone with the site")
  class DeletedSiteKeys {

    @Test
    @DisplayName("the audit log keeps the newest auditLogLength entries")
    void auditTrimmed() {
      String namespace = ValkeyExtension.newNamespace();
      try (ValkeyStore store =
              builder(VALKEY.uri().toString()).namespace(namespace).auditLogLength(3).build();
          RedisClient client = RedisClient.create(VALKEY.uri().toString());
          StatefulRedisConnection<String, String> c = client.connect()) {
        for (int i = 0; i < 5; i++) {
          Rows.pending(store.metadata(), SITE, DeployId.of("20260115-10000" + i + "-abc1234"));
        }
        assertThat(store.metadata().auditLog(SITE, 100))
            .extracting(e -> e.target())
            .containsExactly(
                "20260115-100004-abc1234", "20260115-100003-abc1234", "20260115-100002-abc1234");
        assertThat(c.sync().llen(new Keys(namespace).site(SITE, "audit"))).isEqualTo(3);
      }
    }

    @Test
    @DisplayName("auditLogLength out of range is refused, naming it")
    void auditLengthValidated() {
      assertThatThrownBy(() -> builder(VALKEY.uri().toString()).auditLogLength(0).build())
          .isInstanceOf(ConfigurationException.class)
          .hasMessageContaining("auditLogLength");
    }

    @Test
    @DisplayName(
        "a site left by an older version (revision and audit counter kept after its deletion)"
            + " continues its numbers and loses the leftovers")
    void legacyKeys() {
      String namespace = ValkeyExtension.newNamespace();
      Keys keys = new Keys(namespace);
      try (ValkeyStore store = builder(VALKEY.uri().toString()).namespace(namespace).build();
          RedisClient client = RedisClient.create(VALKEY.uri().toString());
          StatefulRedisConnection<String, String> c = client.connect()) {
        c.sync().set(keys.site(SITE, "rev"), "40");
        c.sync().set(keys.site(SITE, "audit-seq"), "500");
        Rows.pending(store.metadata(), SITE, DEPLOY);
        assertThat(c.sync().exists(keys.site(SITE, "audit-seq"))).isZero();
        assertThat(Long.parseLong(c.sync().get(keys.site(SITE, "rev")))).isGreaterThan(40);
        Rows.pending(store.metadata(), OTHER, DEPLOY);
        assertThat(store.metadata().auditLog(SITE, 10).get(0).id()).isEqualTo(501);
        assertThat(store.metadata().auditLog(OTHER, 10).get(0).id()).isEqualTo(502);
      }
    }

    @Test
    @DisplayName("revisions are never reused after a site is deleted and created again")
    void revisionsNeverRepeat() {
      String namespace = ValkeyExtension.newNamespace();
      Keys keys = new Keys(namespace);
      try (ValkeyStore store = builder(VALKEY.uri().toString()).namespace(namespace).build();
          RedisClient client = RedisClient.create(VALKEY.uri().toString());
          StatefulRedisConnection<String, String> c = client.connect()) {
        Rows.pending(store.metadata(), SITE, DEPLOY);
        long before = Long.parseLong(c.sync().get(keys.site(SITE, "rev")));
        Rows.deleteSite(store.metadata(), SITE);
        assertThat(c.sync().exists(keys.site(SITE, "rev"))).isZero();
        Rows.pending(store.metadata(), SITE, DEPLOY);
        assertThat(Long.parseLong(c.sync().get(keys.site(SITE, "rev")))).isGreaterThan(before);
      }
    }

    @Test
    @DisplayName("deleting a site leaves only its audit log: no revision, no audit counter")
    void onlyAuditLeft() {
      String namespace = ValkeyExtension.newNamespace();
      try (ValkeyStore store = builder(VALKEY.uri().toString()).namespace(namespace).build();
          RedisClient client = RedisClient.create(VALKEY.uri().toString());
          StatefulRedisConnection<String, String> c = client.connect()) {
        Rows.pending(store.metadata(), SITE, DEPLOY);
        assertThat(Rows.deleteSite(store.metadata(), SITE)).isTrue();
        List<OutboxEvent> events = store.outbox().claim("relay", 100, Duration.ofMinutes(1));
        store.outbox().ack("relay", events.stream().map(OutboxEvent::id).toList());
        Keys keys = new Keys(namespace);
        assertThat(Set.copyOf(c.sync().keys(namespace + ":{" + SITE.value() + "}:*")))
            .containsExactly(keys.site(SITE, "audit"));
        assertThat(store.metadata().auditLog(SITE, 10)).hasSize(2);
      }
    }
  }

  @Nested
  @DisplayName("error replies")
  class ErrorReplies {

    @Test
    @DisplayName("OOM (maxmemory reached under noeviction) is transient and says what to check")
    void outOfMemory() {
      try (Dedicated valkey = new Dedicated();
          ValkeyStore store = builder(valkey.uri()).build()) {
        valkey.admin().configSet("maxmemory", "1");
        try {
          assertThatThrownBy(() -> Rows.pending(store.metadata(), SITE, DEPLOY))
              .isInstanceOf(TransientStoreException.class)
              .hasMessageContaining("out of memory")
              .hasMessageContaining("maxmemory")
              .hasMessageNotContaining(valkey.server.password());
          assertThatThrownBy(() -> store.siteLocks().acquire(SITE, Duration.ZERO))
              .isInstanceOf(TransientStoreException.class)
              .hasMessageContaining("maxmemory");
        } finally {
          valkey.admin().configSet("maxmemory", "0");
        }
        Rows.pending(store.metadata(), SITE, DEPLOY);
        assertThat(store.metadata().findDeploy(SITE, DEPLOY)).isPresent();
      }
    }

    @Test
    @DisplayName("NOPERM for a command (ACL) is a configuration error naming the permission")
    void noPermissionForScripts() {
      try (Dedicated valkey = new Dedicated()) {
        valkey.acl("noscript", "on", ">pw-noscript", "~*", "&*", "+@all", "-@scripting");
        try (ValkeyStore store = builder(valkey.uriOf("noscript", "pw-noscript")).build()) {
          assertThatThrownBy(() -> Rows.pending(store.metadata(), SITE, DEPLOY))
              .isInstanceOf(ConfigurationException.class)
              .hasMessageContaining("NOPERM")
              .hasMessageContaining("ACL SETUSER")
              .hasMessageContaining("+@scripting")
              .hasMessageNotContaining("pw-noscript")
              .satisfies(e -> assertThat(((ConfigurationException) e).property()).isEqualTo("uri"));
        }
      }
    }

    @Test
    @DisplayName("NOPERM for the store's keys (ACL key pattern) names the pattern to grant")
    void noPermissionForKeys() {
      try (Dedicated valkey = new Dedicated()) {
        valkey.acl("elsewhere", "on", ">pw-elsewhere", "~other:*", "&*", "+@all");
        String namespace = ValkeyExtension.newNamespace();
        try (ValkeyStore store =
            ValkeyStore.builder()
                .uri(valkey.uriOf("elsewhere", "pw-elsewhere"))
                .namespace(namespace)
                .build()) {
          assertThatThrownBy(() -> store.metadata().findDeploy(SITE, DEPLOY))
              .isInstanceOf(ConfigurationException.class)
              .hasMessageContaining("~" + namespace + ":*")
              .hasMessageNotContaining("pw-elsewhere");
          assertThatThrownBy(() -> store.siteLocks().acquire(SITE, Duration.ZERO))
              .isInstanceOf(ConfigurationException.class);
        }
      }
    }

    @Test
    @DisplayName(
        "a lock's watchdog survives a refused extension (ACL changed under it) and extends the"
            + " lock again once the permission is back")
    void watchdogSurvivesARefusal() {
      try (Dedicated valkey = new Dedicated()) {
        valkey.acl("locker", "on", ">pw-locker", "~*", "&*", "+@all");
        String namespace = ValkeyExtension.newNamespace();
        String key = new Keys(namespace).lock(SITE);
        try (ValkeyStore store =
                ValkeyStore.builder()
                    .uri(valkey.uriOf("locker", "pw-locker"))
                    .namespace(namespace)
                    .lockTtl(Duration.ofSeconds(3))
                    .build();
            SiteLock lock = store.siteLocks().acquire(SITE, Duration.ZERO)) {
          valkey.admin().aclLogReset();
          valkey.acl("locker", "-@scripting");
          // The watchdog (every second) is the only caller: its refused extension is logged.
          await().atMost(Duration.ofSeconds(10)).until(() -> !valkey.admin().aclLog().isEmpty());
          valkey.acl("locker", "+@scripting");
          await()
              .during(Duration.ofSeconds(7))
              .atMost(Duration.ofSeconds(9))
              .until(() -> valkey.admin().exists(key) == 1);
          assertThat(lock.isHeld()).isTrue();
        }
      }
    }

    @Test
    @DisplayName("the ACL the README documents is enough for every part of the store")
    void documentedAclIsEnough() {
      try (Dedicated valkey = new Dedicated()) {
        String namespace = ValkeyExtension.newNamespace();
        // Exactly the rules the store documents (and names in its NOPERM messages).
        List<String> rules = new ArrayList<>(List.of("deploy", "on", ">pw-deploy"));
        rules.addAll(List.of("resetkeys", "resetchannels", "-@all"));
        rules.addAll(List.of(Valkey.ACL_RULES.replace("<ns>", namespace).split(" ")));
        valkey.acl(rules.toArray(String[]::new));
        try (ValkeyStore store =
            ValkeyStore.builder()
                .uri(valkey.uriOf("deploy", "pw-deploy"))
                .namespace(namespace)
                .build()) {
          var cached = store.cached(store.metadata());
          Rows.pending(cached, SITE, DEPLOY);
          assertThat(cached.findDeploy(SITE, DEPLOY)).isPresent();
          AtomicInteger woken = new AtomicInteger();
          try (var subscription = store.outbox().onAppend(woken::incrementAndGet).orElseThrow()) {
            store.outbox().append(new NewEvent(OTHER, "e.one", Map.of()));
            await().atMost(Duration.ofSeconds(10)).until(() -> woken.get() > 0);
          }
          assertThat(store.outbox().claim("relay", 10, Duration.ofMinutes(1))).hasSize(2);
          try (SiteLock lock = store.siteLocks().acquire(SITE, Duration.ZERO)) {
            assertThat(lock.isHeld()).isTrue();
          }
          assertThat(
                  store.jobLeases().tryAcquire(JobKey.of("clone:web"), "a", Duration.ofMinutes(1)))
              .isPresent();
          assertThat(store.metadata().auditLog(SITE, 10)).hasSize(1);
        }
      }
    }

    @Test
    @DisplayName(
        "a password rotated under a running store: calls name the refused credentials, not an"
            + " outage, and succeed again once the server accepts them")
    void passwordRotated() {
      try (Dedicated valkey = new Dedicated();
          ValkeyStore store = builder(valkey.uri()).build()) {
        String old = valkey.server.password();
        String rotated = "rotated-" + old;
        Rows.pending(store.metadata(), SITE, DEPLOY);
        valkey.admin().configSet("requirepass", rotated);
        try {
          valkey.admin().clientKill(KillArgs.Builder.typeNormal().skipme());
          await()
              .atMost(Duration.ofSeconds(20))
              .untilAsserted(
                  () ->
                      assertThatThrownBy(() -> store.metadata().findDeploy(SITE, DEPLOY))
                          .isInstanceOf(TransientStoreException.class)
                          .hasMessageContaining("credentials (WRONGPASS)")
                          .hasMessageContaining("password was rotated")
                          .hasMessageNotContaining(old)
                          .hasMessageNotContaining(rotated));
        } finally {
          valkey.admin().configSet("requirepass", old);
        }
        await()
            .atMost(Duration.ofSeconds(60))
            .ignoreExceptions()
            .until(() -> store.metadata().findDeploy(SITE, DEPLOY).isPresent());
      }
    }
  }
}
