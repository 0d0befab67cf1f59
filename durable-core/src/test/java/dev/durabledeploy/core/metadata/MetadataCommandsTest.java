package dev.durabledeploy.core.metadata;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.durabledeploy.spi.Actor;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.Store;
import dev.durabledeploy.spi.exception.AliasDriftException;
import dev.durabledeploy.spi.exception.DeployAliasedException;
import dev.durabledeploy.spi.exception.DeployNotFoundException;
import dev.durabledeploy.spi.exception.DeployStateException;
import dev.durabledeploy.spi.exception.InvalidInputException;
import dev.durabledeploy.spi.exception.TombstoneExpiredException;
import dev.durabledeploy.spi.metadata.Alias;
import dev.durabledeploy.spi.metadata.AliasExpectation;
import dev.durabledeploy.spi.metadata.AuditEntry;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.spi.metadata.DeployState;
import dev.durabledeploy.spi.metadata.MetadataStore;
import dev.durabledeploy.spi.metadata.SiteDeletion;
import dev.durabledeploy.spi.metadata.Tombstone;
import dev.durabledeploy.spi.outbox.OutboxEvent;
import dev.durabledeploy.spi.outbox.StandardEvents;
import dev.durabledeploy.store.memory.InMemoryStore;
import dev.durabledeploy.testkit.MutableClock;
import dev.durabledeploy.testkit.tck.StoreFixture;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/**
 * The decisions of every {@link MetadataCommands} command, once, on the reference store: each
 * command's effect, refusals, idempotency (V9), CAS (E2), V1, the events it appends in its atom,
 * and the audit log. What a store must do under them (atomicity, isolation, precision, order) is
 * {@link dev.durabledeploy.testkit.tck.MetadataStoreContract}, run on every store.
 */
class MetadataCommandsTest extends StoreFixture {

  static final AliasName PROD = AliasName.PRODUCTION;
  static final AliasName PREVIEW = AliasName.PREVIEW;
  private static final Duration WINDOW = Duration.ofDays(7);

  MetadataCommands metadata;
  MetadataStore rows;

  @Override
  protected Store createStore(MutableClock clock) {
    return new InMemoryStore(clock);
  }

  @BeforeEach
  void metadata() {
    rows = store.metadata();
    metadata = new MetadataCommands(rows);
  }

  /** Creates deploy {@code n} and finalizes it to {@code alias}. */
  Alias finalized(int n, AliasName alias) {
    metadata.createPending(SITE, deployId(n), sha(n), ACTOR);
    return metadata.activate(SITE, deployId(n), alias, AliasExpectation.ANY, ACTOR);
  }

  /** An active deploy {@code n} that no alias targets. */
  Deploy unaliased(int n) {
    return metadata.adopt(SITE, deployId(n), sha(n), clock.instant(), ACTOR).orElseThrow();
  }

  @Nested
  @DisplayName("creating a pending deploy")
  class CreatePending {

    @Test
    @DisplayName("stores it PENDING at the clock's time, registers the site, announces both")
    void creates() {
      Deploy d = metadata.createPending(SITE, deployId(1), sha(1), ACTOR);
      assertThat(d.state()).isEqualTo(DeployState.PENDING);
      assertThat(d.createdAt()).isEqualTo(clock.instant());
      assertThat(d.sha()).isEqualTo(sha(1));
      assertThat(d.finalizedAt()).isNull();
      assertThat(rows.findDeploy(SITE, deployId(1))).contains(d);
      assertThat(rows.listDeploys(SITE)).containsExactly(d);
      List<OutboxEvent> events = drainEvents();
      assertThat(events)
          .extracting(OutboxEvent::type)
          .containsExactly(StandardEvents.SITE_REGISTERED, StandardEvents.SITE_CHANGED);
      assertThat(events.get(1).payload())
          .isEqualTo(StandardEvents.siteChanged(SITE, MetadataCommands.ACTION_CREATE).payload());
      assertThat(events.get(1).site()).isEqualTo(SITE);
      assertThat(rows.findSite(SITE).orElseThrow().profile().owner()).isEqualTo(ACTOR.value());
    }

    @Test
    @DisplayName("is idempotent for the same sha: no second event, no second audit entry")
    void idempotent() {
      Deploy first = metadata.createPending(SITE, deployId(1), sha(1), ACTOR);
      clock.advance(Duration.ofSeconds(5));
      assertThat(metadata.createPending(SITE, deployId(1), sha(1), ACTOR)).isEqualTo(first);
      // The site's registration and the deploy's creation, once each.
      assertThat(drainEventTypes()).hasSize(2);
      assertThat(rows.auditLog(SITE, 10)).hasSize(2);
    }

    @Test
    @DisplayName("refuses the same id with another sha")
    void refusesOtherSha() {
      metadata.createPending(SITE, deployId(1), sha(1), ACTOR);
      assertThatThrownBy(() -> metadata.createPending(SITE, deployId(1), sha(2), ACTOR))
          .isInstanceOf(DeployStateException.class);
    }

    @Test
    @DisplayName("accepts a deploy without sha")
    void withoutSha() {
      assertThat(metadata.createPending(SITE, deployId(1), null, ACTOR).sha()).isNull();
    }
  }

  @Nested
  @DisplayName("activating (finalize)")
  class Activate {

    @Test
    @DisplayName("makes the deploy ACTIVE and creates the alias at version 1 in one atom")
    void firstFinalize() {
      metadata.createPending(SITE, deployId(1), sha(1), ACTOR);
      drainEvents();
      clock.advance(Duration.ofSeconds(1));
      Alias alias = metadata.activate(SITE, deployId(1), PROD, AliasExpectation.ABSENT, ACTOR);
      assertThat(alias.target()).isEqualTo(deployId(1));
      assertThat(alias.version()).isEqualTo(1);
      assertThat(alias.updatedAt()).isEqualTo(clock.instant());
      Deploy d = rows.findDeploy(SITE, deployId(1)).orElseThrow();
      assertThat(d.state()).isEqualTo(DeployState.ACTIVE);
      assertThat(d.finalizedAt()).isEqualTo(clock.instant());
      assertThat(rows.findAlias(SITE, PROD)).contains(alias);
      List<OutboxEvent> events = drainEvents();
      assertThat(events)
          .extracting(OutboxEvent::type)
          .containsExactly(StandardEvents.ALIAS_CHANGED, StandardEvents.SITE_CHANGED);
      assertThat(events.get(0).payload())
          .isEqualTo(StandardEvents.aliasChanged(SITE, PROD, deployId(1), 1, null).payload());
    }

    @Test
    @DisplayName("moves an existing alias and stamps releasedAt on the previous target")
    void secondFinalizeReleasesPrevious() {
      finalized(1, PROD);
      drainEvents();
      clock.advance(Duration.ofMinutes(1));
      metadata.createPending(SITE, deployId(2), sha(2), ACTOR);
      Alias alias = metadata.activate(SITE, deployId(2), PROD, AliasExpectation.version(1), ACTOR);
      assertThat(alias.version()).isEqualTo(2);
      assertThat(rows.findDeploy(SITE, deployId(1)).orElseThrow().releasedAt())
          .isEqualTo(clock.instant());
      assertThat(rows.findDeploy(SITE, deployId(2)).orElseThrow().releasedAt()).isNull();
      OutboxEvent changed =
          drainEvents().stream()
              .filter(e -> e.type().equals(StandardEvents.ALIAS_CHANGED))
              .findFirst()
              .orElseThrow();
      assertThat(changed.get(StandardEvents.KEY_PREVIOUS)).isEqualTo(deployId(1).value());
      assertThat(changed.get(StandardEvents.KEY_VERSION)).isEqualTo("2");
    }

    @Test
    @DisplayName(
        "re-running a finalize that succeeded returns the same alias and changes nothing (V9)")
    void rerunIsNoOp() {
      Alias first = finalized(1, PROD);
      drainEvents();
      int audits = rows.auditLog(SITE, 100).size();
      clock.advance(Duration.ofSeconds(30));
      Alias again = metadata.activate(SITE, deployId(1), PROD, AliasExpectation.version(0), ACTOR);
      assertThat(again).isEqualTo(first);
      assertThat(drainEvents()).isEmpty();
      assertThat(rows.auditLog(SITE, 100)).hasSize(audits);
    }

    @Test
    @DisplayName("refuses a deploy already finalized behind another alias")
    void refusesActiveElsewhere() {
      finalized(1, PROD);
      assertThatThrownBy(
              () -> metadata.activate(SITE, deployId(1), PREVIEW, AliasExpectation.ANY, ACTOR))
          .isInstanceOf(DeployStateException.class)
          .satisfies(
              e -> assertThat(((DeployStateException) e).state()).isEqualTo(DeployState.ACTIVE));
    }

    @Test
    @DisplayName("a CAS mismatch carries the current alias and leaves the deploy PENDING")
    void driftLeavesPending() {
      Alias current = finalized(1, PROD);
      metadata.createPending(SITE, deployId(2), sha(2), ACTOR);
      drainEvents();
      assertThatThrownBy(
              () -> metadata.activate(SITE, deployId(2), PROD, AliasExpectation.version(7), ACTOR))
          .isInstanceOfSatisfying(
              AliasDriftException.class,
              e -> {
                assertThat(e.current()).contains(current);
                assertThat(e.alias()).isEqualTo(PROD);
              });
      assertThat(rows.findDeploy(SITE, deployId(2)).orElseThrow().state())
          .isEqualTo(DeployState.PENDING);
      assertThat(rows.findAlias(SITE, PROD)).contains(current);
      assertThat(drainEvents()).isEmpty();
    }

    @Test
    @DisplayName("ABSENT refuses an existing alias; an unknown deploy is not found")
    void absentAndUnknown() {
      finalized(1, PROD);
      metadata.createPending(SITE, deployId(2), sha(2), ACTOR);
      assertThatThrownBy(
              () -> metadata.activate(SITE, deployId(2), PROD, AliasExpectation.ABSENT, ACTOR))
          .isInstanceOf(AliasDriftException.class);
      assertThatThrownBy(
              () -> metadata.activate(SITE, deployId(9), PROD, AliasExpectation.ANY, ACTOR))
          .isInstanceOf(DeployNotFoundException.class);
    }
  }

  @Nested
  @DisplayName("sealing a deploy for finalize (FINALIZING)")
  class Finalizing {

    @Test
    @DisplayName("beginFinalize seals a pending deploy, audits it and announces site.changed")
    void seals() {
      metadata.createPending(SITE, deployId(1), sha(1), ACTOR);
      drainEvents();
      Deploy sealed = metadata.beginFinalize(SITE, deployId(1), ACTOR);
      assertThat(sealed.state()).isEqualTo(DeployState.FINALIZING);
      assertThat(sealed.finalizedAt()).isNull();
      assertThat(rows.findDeploy(SITE, deployId(1))).contains(sealed);
      assertThat(rows.listDeploys(SITE)).containsExactly(sealed);
      List<OutboxEvent> events = drainEvents();
      assertThat(events).extracting(OutboxEvent::type).containsExactly(StandardEvents.SITE_CHANGED);
      assertThat(events.get(0).payload())
          .isEqualTo(
              StandardEvents.siteChanged(SITE, MetadataCommands.ACTION_BEGIN_FINALIZE).payload());
      AuditEntry entry = rows.auditLog(SITE, 1).get(0);
      assertThat(entry.action()).isEqualTo(MetadataCommands.ACTION_BEGIN_FINALIZE);
      assertThat(entry.before()).isEqualTo("pending");
      assertThat(entry.after()).isEqualTo("finalizing");
      assertThat(entry.actor()).isEqualTo(ACTOR);
    }

    @Test
    @DisplayName("sealing a sealed deploy changes nothing: no event, no audit entry (V9)")
    void sealIsIdempotent() {
      metadata.createPending(SITE, deployId(1), sha(1), ACTOR);
      Deploy sealed = metadata.beginFinalize(SITE, deployId(1), ACTOR);
      drainEvents();
      int audits = rows.auditLog(SITE, 100).size();
      clock.advance(Duration.ofSeconds(5));
      assertThat(metadata.beginFinalize(SITE, deployId(1), ACTOR)).isEqualTo(sealed);
      assertThat(drainEvents()).isEmpty();
      assertThat(rows.auditLog(SITE, 100)).hasSize(audits);
    }

    @Test
    @DisplayName("activate finalizes a sealed deploy and moves the alias in one atom")
    void activatesSealed() {
      metadata.createPending(SITE, deployId(1), sha(1), ACTOR);
      metadata.beginFinalize(SITE, deployId(1), ACTOR);
      drainEvents();
      Alias alias = metadata.activate(SITE, deployId(1), PROD, AliasExpectation.ABSENT, ACTOR);
      assertThat(alias.target()).isEqualTo(deployId(1));
      Deploy d = rows.findDeploy(SITE, deployId(1)).orElseThrow();
      assertThat(d.state()).isEqualTo(DeployState.ACTIVE);
      assertThat(d.finalizedAt()).isEqualTo(clock.instant());
      assertThat(drainEventTypes())
          .containsExactly(StandardEvents.ALIAS_CHANGED, StandardEvents.SITE_CHANGED);
    }

    @Test
    @DisplayName("a CAS mismatch leaves the deploy sealed; abortFinalize unseals it, once")
    void driftThenUnseal() {
      finalized(1, PROD);
      metadata.createPending(SITE, deployId(2), sha(2), ACTOR);
      metadata.beginFinalize(SITE, deployId(2), ACTOR);
      drainEvents();
      assertThatThrownBy(
              () -> metadata.activate(SITE, deployId(2), PROD, AliasExpectation.version(9), ACTOR))
          .isInstanceOf(AliasDriftException.class);
      assertThat(rows.findDeploy(SITE, deployId(2)).orElseThrow().state())
          .isEqualTo(DeployState.FINALIZING);
      assertThat(drainEvents()).isEmpty();

      Deploy unsealed = metadata.abortFinalize(SITE, deployId(2), ACTOR);
      assertThat(unsealed.state()).isEqualTo(DeployState.PENDING);
      assertThat(rows.findDeploy(SITE, deployId(2))).contains(unsealed);
      List<OutboxEvent> events = drainEvents();
      assertThat(events).extracting(OutboxEvent::type).containsExactly(StandardEvents.SITE_CHANGED);
      assertThat(events.get(0).payload())
          .isEqualTo(
              StandardEvents.siteChanged(SITE, MetadataCommands.ACTION_ABORT_FINALIZE).payload());
      AuditEntry entry = rows.auditLog(SITE, 1).get(0);
      assertThat(entry.action()).isEqualTo(MetadataCommands.ACTION_ABORT_FINALIZE);
      assertThat(entry.before()).isEqualTo("finalizing");
      assertThat(entry.after()).isEqualTo("pending");

      int audits = rows.auditLog(SITE, 100).size();
      assertThat(metadata.abortFinalize(SITE, deployId(2), ACTOR)).isEqualTo(unsealed);
      assertThat(drainEvents()).isEmpty();
      assertThat(rows.auditLog(SITE, 100)).hasSize(audits);
    }

    @Test
    @DisplayName("an active deploy is neither sealed nor unsealed; a missing one is not found")
    void refusals() {
      finalized(1, PROD);
      assertThatThrownBy(() -> metadata.beginFinalize(SITE, deployId(1), ACTOR))
          .isInstanceOfSatisfying(
              DeployStateException.class, e -> assertThat(e.state()).isEqualTo(DeployState.ACTIVE));
      assertThatThrownBy(() -> metadata.abortFinalize(SITE, deployId(1), ACTOR))
          .isInstanceOfSatisfying(
              DeployStateException.class, e -> assertThat(e.state()).isEqualTo(DeployState.ACTIVE));
      assertThatThrownBy(() -> metadata.beginFinalize(SITE, deployId(9), ACTOR))
          .isInstanceOf(DeployNotFoundException.class);
      metadata.createPending(SITE, deployId(3), sha(3), ACTOR);
      metadata.tombstone(SITE, deployId(3), WINDOW, ACTOR);
      assertThatThrownBy(() -> metadata.beginFinalize(SITE, deployId(3), ACTOR))
          .isInstanceOf(DeployNotFoundException.class);
      assertThatThrownBy(() -> metadata.abortFinalize(SITE, deployId(3), ACTOR))
          .isInstanceOf(DeployNotFoundException.class);
    }

    @Test
    @DisplayName("a sealed deploy cannot be aliased; deleted and restored, it comes back sealed")
    void sealedDeployElsewhere() {
      metadata.createPending(SITE, deployId(1), sha(1), ACTOR);
      metadata.beginFinalize(SITE, deployId(1), ACTOR);
      assertThatThrownBy(
              () -> metadata.moveAlias(SITE, PROD, deployId(1), AliasExpectation.ANY, ACTOR))
          .isInstanceOfSatisfying(
              DeployStateException.class,
              e -> assertThat(e.state()).isEqualTo(DeployState.FINALIZING));
      Tombstone tombstone = metadata.tombstone(SITE, deployId(1), WINDOW, ACTOR);
      assertThat(tombstone.deploy().state()).isEqualTo(DeployState.FINALIZING);
      assertThat(rows.findTombstone(SITE, deployId(1))).contains(tombstone);
      assertThat(metadata.restore(SITE, deployId(1), ACTOR).state())
          .isEqualTo(DeployState.FINALIZING);
      assertThat(rows.findDeploy(SITE, deployId(1)).orElseThrow().state())
          .isEqualTo(DeployState.FINALIZING);
    }
  }

  @Nested
  @DisplayName("moving an alias (promote, rollback)")
  class MoveAlias {

    @Test
    @DisplayName("moves by version CAS, bumps the version and releases the previous target")
    void moves() {
      finalized(1, PROD);
      unaliased(2);
      drainEvents();
      clock.advance(Duration.ofSeconds(3));
      Alias moved = metadata.moveAlias(SITE, PROD, deployId(2), AliasExpectation.version(1), ACTOR);
      assertThat(moved.version()).isEqualTo(2);
      assertThat(moved.target()).isEqualTo(deployId(2));
      assertThat(rows.findDeploy(SITE, deployId(1)).orElseThrow().releasedAt())
          .isEqualTo(clock.instant());
      assertThat(drainEventTypes())
          .containsExactly(StandardEvents.ALIAS_CHANGED, StandardEvents.SITE_CHANGED);
    }

    @Test
    @DisplayName("an expectedCurrent mismatch is drift carrying the current target (E2)")
    void expectedCurrentMismatch() {
      finalized(1, PROD);
      unaliased(2);
      assertThatThrownBy(
              () ->
                  metadata.moveAlias(
                      SITE, PROD, deployId(2), AliasExpectation.current(deployId(2)), ACTOR))
          .isInstanceOfSatisfying(
              AliasDriftException.class,
              e -> assertThat(e.current().orElseThrow().target()).isEqualTo(deployId(1)));
    }

    @Test
    @DisplayName("creates an alias that does not exist yet")
    void createsAlias() {
      unaliased(1);
      Alias created =
          metadata.moveAlias(SITE, PREVIEW, deployId(1), AliasExpectation.ABSENT, ACTOR);
      assertThat(created.version()).isEqualTo(1);
    }

    @Test
    @DisplayName("refuses a pending or unknown target")
    void refusesPendingOrUnknown() {
      metadata.createPending(SITE, deployId(1), sha(1), ACTOR);
      assertThatThrownBy(
              () -> metadata.moveAlias(SITE, PROD, deployId(1), AliasExpectation.ANY, ACTOR))
          .isInstanceOf(DeployStateException.class);
      assertThatThrownBy(
              () -> metadata.moveAlias(SITE, PROD, deployId(5), AliasExpectation.ANY, ACTOR))
          .isInstanceOf(DeployNotFoundException.class);
    }

    @Test
    @DisplayName("moving an alias where it already points changes nothing (V9)")
    void alreadyThere() {
      Alias current = finalized(1, PROD);
      drainEvents();
      assertThat(metadata.moveAlias(SITE, PROD, deployId(1), AliasExpectation.version(1), ACTOR))
          .isEqualTo(current);
      assertThat(metadata.moveAlias(SITE, PROD, deployId(1), AliasExpectation.ANY, ACTOR))
          .isEqualTo(current);
      assertThat(drainEvents()).isEmpty();
    }

    @Test
    @DisplayName("a stale expectation is drift even when the alias already points at the target")
    void staleExpectationIsDrift() {
      finalized(1, PROD);
      unaliased(2);
      metadata.moveAlias(SITE, PROD, deployId(2), AliasExpectation.version(1), ACTOR);
      assertThatThrownBy(
              () -> metadata.moveAlias(SITE, PROD, deployId(2), AliasExpectation.version(1), ACTOR))
          .isInstanceOfSatisfying(
              AliasDriftException.class,
              e -> assertThat(e.current().orElseThrow().version()).isEqualTo(2));
    }

    @Test
    @DisplayName("32 threads doing CAS on one alias lose no update: version = 1 + successes")
    void concurrentCas() throws Exception {
      finalized(0, PROD);
      for (int i = 1; i <= 4; i++) {
        unaliased(i);
      }
      int threads = 32;
      int perThread = 20;
      AtomicInteger successes = new AtomicInteger();
      AtomicInteger drifts = new AtomicInteger();
      CountDownLatch start = new CountDownLatch(1);
      ExecutorService pool = Executors.newFixedThreadPool(threads);
      try {
        List<Future<?>> futures = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
          int thread = t;
          futures.add(
              pool.submit(
                  () -> {
                    start.await();
                    for (int i = 0; i < perThread; i++) {
                      Alias seen = rows.findAlias(SITE, PROD).orElseThrow();
                      DeployId target = deployId((thread + i) % 5);
                      if (target.equals(seen.target())) {
                        target = deployId((thread + i + 1) % 5);
                      }
                      try {
                        Alias after =
                            metadata.moveAlias(
                                SITE,
                                PROD,
                                target,
                                AliasExpectation.version(seen.version()),
                                ACTOR);
                        assertThat(after.version()).isEqualTo(seen.version() + 1);
                        successes.incrementAndGet();
                      } catch (AliasDriftException e) {
                        drifts.incrementAndGet();
                      }
                    }
                    return null;
                  }));
        }
        start.countDown();
        for (Future<?> f : futures) {
          f.get(60, TimeUnit.SECONDS);
        }
      } finally {
        pool.shutdownNow();
      }
      assertThat(successes.get() + drifts.get()).isEqualTo(threads * perThread);
      assertThat(successes.get()).isPositive();
      assertThat(rows.findAlias(SITE, PROD).orElseThrow().version())
          .isEqualTo(1L + successes.get());
      long aliasEvents =
          drainEvents().stream().filter(e -> e.type().equals(StandardEvents.ALIAS_CHANGED)).count();
      assertThat(aliasEvents).isEqualTo(1L + successes.get());
    }
  }

  @Nested
  @DisplayName("deleting an alias")
  class DeleteAlias {

    @Test
    @DisplayName("removes it, releases its target and announces an empty deployId")
    void deletes() {
      finalized(1, PROD);
      drainEvents();
      assertThat(metadata.deleteAlias(SITE, PROD, AliasExpectation.version(1), ACTOR)).isTrue();
      assertThat(rows.findAlias(SITE, PROD)).isEmpty();
      assertThat(rows.listAliases(SITE)).isEmpty();
      assertThat(rows.findDeploy(SITE, deployId(1)).orElseThrow().releasedAt())
          .isEqualTo(clock.instant());
      List<OutboxEvent> events = drainEvents();
      assertThat(events.get(0).payload())
          .isEqualTo(StandardEvents.aliasChanged(SITE, PROD, null, 2, deployId(1)).payload());
    }

    @Test
    @DisplayName("a re-created alias continues the version so projections never go backwards")
    void versionContinues() {
      finalized(1, PROD);
      metadata.deleteAlias(SITE, PROD, AliasExpectation.ANY, ACTOR);
      Alias again = metadata.moveAlias(SITE, PROD, deployId(1), AliasExpectation.ABSENT, ACTOR);
      assertThat(again.version()).isEqualTo(3);
    }

    @Test
    @DisplayName("a missing alias is a no-op; a version mismatch is drift")
    void missingAndDrift() {
      assertThat(metadata.deleteAlias(SITE, PROD, AliasExpectation.ANY, ACTOR)).isFalse();
      finalized(1, PROD);
      assertThatThrownBy(() -> metadata.deleteAlias(SITE, PROD, AliasExpectation.version(3), ACTOR))
          .isInstanceOf(AliasDriftException.class);
      assertThat(rows.findAlias(SITE, PROD)).isPresent();
    }
  }

  @Nested
  @DisplayName("tombstones")
  class Tombstones {

    @Test
    @DisplayName("tombstoning moves the row to a tombstone expiring after the recovery window")
    void tombstones() {
      Deploy d = unaliased(1);
      drainEvents();
      Tombstone t = metadata.tombstone(SITE, deployId(1), WINDOW, ACTOR);
      assertThat(t.deploy()).isEqualTo(d);
      assertThat(t.deletedAt()).isEqualTo(clock.instant());
      assertThat(t.expiresAt()).isEqualTo(clock.instant().plus(WINDOW));
      assertThat(rows.findDeploy(SITE, deployId(1))).isEmpty();
      assertThat(rows.listDeploys(SITE)).isEmpty();
      assertThat(rows.findTombstone(SITE, deployId(1))).contains(t);
      assertThat(rows.listTombstones(SITE)).containsExactly(t);
      List<OutboxEvent> events = drainEvents();
      assertThat(events)
          .extracting(OutboxEvent::type)
          .containsExactly(StandardEvents.DEPLOY_DELETED, StandardEvents.SITE_CHANGED);
      assertThat(events.get(0).get(StandardEvents.KEY_DEPLOY_ID)).isEqualTo(deployId(1).value());
    }

    @Test
    @DisplayName(
        "bytes without a row get a tombstone of a pending deploy, or of the active one a marker"
            + " describes, restorable; never over a row or tombstone")
    void tombstonesOrphans() {
      Tombstone pending =
          metadata.tombstoneOrphan(SITE, deployId(1), null, null, WINDOW, ACTOR).orElseThrow();
      assertThat(pending.deploy().state()).isEqualTo(DeployState.PENDING);
      assertThat(pending.expiresAt()).isEqualTo(clock.instant().plus(WINDOW));
      assertThat(rows.findTombstone(SITE, deployId(1))).contains(pending);
      Tombstone active =
          metadata
              .tombstoneOrphan(SITE, deployId(2), sha(2), clock.instant(), WINDOW, ACTOR)
              .orElseThrow();
      assertThat(active.deploy().isActive()).isTrue();
      assertThat(drainEvents())
          .extracting(OutboxEvent::type)
          .containsExactly(StandardEvents.SITE_CHANGED, StandardEvents.SITE_CHANGED);
      assertThat(rows.auditLog(SITE, 1).get(0).action())
          .isEqualTo(MetadataCommands.ACTION_TOMBSTONE_ORPHAN);

      unaliased(3);
      int audits = rows.auditLog(SITE, 100).size();
      assertThat(metadata.tombstoneOrphan(SITE, deployId(3), null, null, WINDOW, ACTOR)).isEmpty();
      assertThat(metadata.tombstoneOrphan(SITE, deployId(1), null, null, WINDOW, ACTOR)).isEmpty();
      assertThat(rows.findDeploy(SITE, deployId(3))).isPresent();
      assertThat(rows.auditLog(SITE, 100)).hasSize(audits);
      assertThat(metadata.restore(SITE, deployId(1), ACTOR).isPending()).isTrue();
    }

    @Test
    @DisplayName("tombstoning an aliased deploy is refused atomically (V1)")
    void refusesAliased() {
      finalized(1, PROD);
      metadata.moveAlias(SITE, PREVIEW, deployId(1), AliasExpectation.ANY, ACTOR);
      drainEvents();
      assertThatThrownBy(() -> metadata.tombstone(SITE, deployId(1), WINDOW, ACTOR))
          .isInstanceOfSatisfying(
              DeployAliasedException.class,
              e -> assertThat(e.aliases()).containsExactly(PREVIEW, PROD));
      assertThat(rows.findDeploy(SITE, deployId(1))).isPresent();
      assertThat(rows.findTombstone(SITE, deployId(1))).isEmpty();
      assertThat(drainEvents()).isEmpty();
    }

    @Test
    @DisplayName("re-tombstoning returns the existing tombstone and changes nothing (V9)")
    void idempotent() {
      unaliased(1);
      Tombstone first = metadata.tombstone(SITE, deployId(1), WINDOW, ACTOR);
      drainEvents();
      clock.advance(Duration.ofHours(1));
      assertThat(metadata.tombstone(SITE, deployId(1), Duration.ofDays(30), ACTOR))
          .isEqualTo(first);
      assertThat(drainEvents()).isEmpty();
    }

    @Test
    @DisplayName("tombstoning an unknown deploy is not found; a negative window is invalid")
    void unknownAndInvalid() {
      assertThatThrownBy(() -> metadata.tombstone(SITE, deployId(1), WINDOW, ACTOR))
          .isInstanceOf(DeployNotFoundException.class);
      unaliased(1);
      assertThatThrownBy(() -> metadata.tombstone(SITE, deployId(1), Duration.ofSeconds(-1), ACTOR))
          .isInstanceOf(InvalidInputException.class);
    }

    @Test
    @DisplayName("restoring within the window brings the row back and writes no alias")
    void restores() {
      Deploy d = unaliased(1);
      metadata.tombstone(SITE, deployId(1), WINDOW, ACTOR);
      drainEvents();
      clock.advance(WINDOW.minusSeconds(1));
      Deploy restored = metadata.restore(SITE, deployId(1), ACTOR);
      assertThat(restored.restoredAt()).isEqualTo(clock.instant());
      assertThat(restored).usingRecursiveComparison().ignoringFields("restoredAt").isEqualTo(d);
      assertThat(rows.findDeploy(SITE, deployId(1))).contains(restored);
      assertThat(rows.findTombstone(SITE, deployId(1))).isEmpty();
      assertThat(rows.listAliases(SITE)).isEmpty();
      assertThat(drainEventTypes())
          .containsExactly(StandardEvents.DEPLOY_RESTORED, StandardEvents.SITE_CHANGED);
      clock.advance(Duration.ofMinutes(1));
      assertThat(metadata.restore(SITE, deployId(1), ACTOR)).isEqualTo(restored);
      assertThat(drainEvents()).isEmpty();
    }

    @Test
    @DisplayName(
        "the restore time stays with the row through alias moves, a second delete and restore")
    void restoreTimeKept() {
      unaliased(1);
      metadata.tombstone(SITE, deployId(1), WINDOW, ACTOR);
      clock.advance(Duration.ofHours(1));
      Instant first = clock.instant();
      metadata.restore(SITE, deployId(1), ACTOR);
      assertThat(rows.listDeploys(SITE))
          .singleElement()
          .satisfies(d -> assertThat(d.restoredAt()).isEqualTo(first));
      clock.advance(Duration.ofMinutes(1));
      metadata.moveAlias(SITE, PROD, deployId(1), AliasExpectation.ANY, ACTOR);
      clock.advance(Duration.ofMinutes(1));
      finalized(2, PROD);
      Deploy released = rows.findDeploy(SITE, deployId(1)).orElseThrow();
      assertThat(released.releasedAt()).isEqualTo(clock.instant());
      assertThat(released.restoredAt()).isEqualTo(first);
      Tombstone again = metadata.tombstone(SITE, deployId(1), WINDOW, ACTOR);
      assertThat(again.deploy()).isEqualTo(released);
      assertThat(rows.findTombstone(SITE, deployId(1))).contains(again);
      clock.advance(Duration.ofHours(1));
      assertThat(metadata.restore(SITE, deployId(1), ACTOR).restoredAt())
          .isEqualTo(clock.instant());
      assertThat(rows.findDeploy(SITE, deployId(2)).orElseThrow().restoredAt()).isNull();
    }

    @Test
    @DisplayName("restoring an expired tombstone is refused; an unknown one is not found")
    void restoreExpired() {
      unaliased(1);
      Tombstone t = metadata.tombstone(SITE, deployId(1), WINDOW, ACTOR);
      clock.advance(WINDOW);
      assertThatThrownBy(() -> metadata.restore(SITE, deployId(1), ACTOR))
          .isInstanceOfSatisfying(
              TombstoneExpiredException.class,
              e -> assertThat(e.expiredAt()).isEqualTo(t.expiresAt()));
      assertThat(rows.findTombstone(SITE, deployId(1))).isPresent();
      assertThatThrownBy(() -> metadata.restore(SITE, deployId(2), ACTOR))
          .isInstanceOf(DeployNotFoundException.class);
    }

    @Test
    @DisplayName("purging removes the tombstone once; a second purge is a no-op")
    void purges() {
      unaliased(1);
      metadata.tombstone(SITE, deployId(1), WINDOW, ACTOR);
      drainEvents();
      assertThat(metadata.purgeTombstone(SITE, deployId(1), ACTOR)).isTrue();
      assertThat(rows.findTombstone(SITE, deployId(1))).isEmpty();
      assertThat(drainEventTypes())
          .containsExactly(StandardEvents.DEPLOY_PURGED, StandardEvents.SITE_CHANGED);
      assertThat(metadata.purgeTombstone(SITE, deployId(1), ACTOR)).isFalse();
      assertThat(drainEvents()).isEmpty();
    }

    @Test
    @DisplayName("expired tombstones are listed across sites, oldest expiry first, up to a limit")
    void listsExpired() {
      unaliased(1);
      unaliased(2);
      metadata.adopt(OTHER_SITE, deployId(3), null, clock.instant(), ACTOR);
      metadata.tombstone(SITE, deployId(2), Duration.ofHours(1), ACTOR);
      metadata.tombstone(OTHER_SITE, deployId(3), Duration.ofHours(2), ACTOR);
      metadata.tombstone(SITE, deployId(1), Duration.ofHours(10), ACTOR);
      Instant now = clock.advance(Duration.ofHours(3));
      assertThat(rows.listExpiredTombstones(now, 10))
          .extracting(Tombstone::deployId)
          .containsExactly(deployId(2), deployId(3));
      assertThat(rows.listExpiredTombstones(now, 1)).hasSize(1);
      assertThat(rows.listExpiredTombstones(now.minus(Duration.ofHours(3)), 10)).isEmpty();
    }
  }

  @Nested
  @DisplayName("adopting deploys found in the bucket (backfill)")
  class Adopt {

    @Test
    @DisplayName("adds an ACTIVE row created at the id's time and never overwrites")
    void adopts() {
      Deploy d = metadata.adopt(SITE, deployId(1), sha(1), clock.instant(), ACTOR).orElseThrow();
      assertThat(d.state()).isEqualTo(DeployState.ACTIVE);
      assertThat(d.createdAt()).isEqualTo(deployId(1).createdAt());
      assertThat(metadata.adopt(SITE, deployId(1), sha(2), clock.instant(), ACTOR)).isEmpty();
      assertThat(rows.findDeploy(SITE, deployId(1)).orElseThrow().sha()).isEqualTo(sha(1));
      metadata.tombstone(SITE, deployId(1), WINDOW, ACTOR);
      assertThat(metadata.adopt(SITE, deployId(1), sha(1), clock.instant(), ACTOR)).isEmpty();
      assertThat(rows.listAliases(SITE)).isEmpty();
    }

    @Test
    @DisplayName(
        "restoreAlias writes the projection's version where the row is missing or older, and"
            + " never moves an alias backwards (V9)")
    void restoresAliases() {
      unaliased(1);
      unaliased(2);
      drainEvents();
      Alias restored = metadata.restoreAlias(SITE, PROD, deployId(1), 5, ACTOR).orElseThrow();
      assertThat(restored.version()).isEqualTo(5);
      List<OutboxEvent> events = drainEvents();
      assertThat(events)
          .extracting(OutboxEvent::type)
          .containsExactly(StandardEvents.ALIAS_CHANGED, StandardEvents.SITE_CHANGED);
      assertThat(events.get(0).payload())
          .isEqualTo(StandardEvents.aliasChanged(SITE, PROD, deployId(1), 5, null).payload());

      assertThat(metadata.restoreAlias(SITE, PROD, deployId(2), 5, ACTOR)).isEmpty();
      assertThat(metadata.restoreAlias(SITE, PROD, deployId(2), 4, ACTOR)).isEmpty();
      assertThat(drainEvents()).isEmpty();
      assertThat(rows.findAlias(SITE, PROD).orElseThrow().target()).isEqualTo(deployId(1));

      clock.advance(Duration.ofMinutes(1));
      assertThat(metadata.restoreAlias(SITE, PROD, deployId(2), 6, ACTOR)).isPresent();
      assertThat(rows.findDeploy(SITE, deployId(1)).orElseThrow().releasedAt())
          .isEqualTo(clock.instant());
      assertThat(rows.auditLog(SITE, 10))
          .extracting(AuditEntry::action)
          .filteredOn(MetadataCommands.ACTION_ALIAS_RESTORE::equals)
          .as("one audit entry per restore that wrote")
          .hasSize(2);
    }

    @Test
    @DisplayName("restoreAlias refuses a target that is not a live finalized deploy, or version 0")
    void restoreRefusals() {
      assertThatThrownBy(() -> metadata.restoreAlias(SITE, PROD, deployId(1), 1, ACTOR))
          .isInstanceOf(DeployNotFoundException.class);
      metadata.createPending(SITE, deployId(2), sha(2), ACTOR);
      assertThatThrownBy(() -> metadata.restoreAlias(SITE, PROD, deployId(2), 1, ACTOR))
          .isInstanceOf(DeployStateException.class);
      unaliased(3);
      assertThatThrownBy(() -> metadata.restoreAlias(SITE, PROD, deployId(3), 0, ACTOR))
          .isInstanceOfSatisfying(
              InvalidInputException.class, e -> assertThat(e.field()).isEqualTo("version"));
      assertThat(rows.listAliases(SITE)).isEmpty();
    }
  }

  @Nested
  @DisplayName("sites")
  class Sites {

    @Test
    @DisplayName("are listed in id order and paged")
    void lists() {
      for (String s : List.of("c-site", "a-site", "b-site")) {
        metadata.createPending(SiteId.of(s), deployId(1), null, ACTOR);
      }
      assertThat(rows.listSites(null, 10))
          .extracting(SiteId::value)
          .containsExactly("a-site", "b-site", "c-site");
      assertThat(rows.listSites(SiteId.of("a-site"), 1))
          .extracting(SiteId::value)
          .containsExactly("b-site");
    }

    @Test
    @DisplayName("deleting a site removes every row once and keeps the audit log")
    void deletesSite() {
      finalized(1, PROD);
      unaliased(2);
      unaliased(3);
      metadata.tombstone(SITE, deployId(3), WINDOW, ACTOR);
      metadata.createPending(OTHER_SITE, deployId(1), null, ACTOR);
      drainEvents();
      SiteDeletion deletion = metadata.deleteSite(SITE, ACTOR);
      assertThat(deletion).isEqualTo(new SiteDeletion(2, 1, 1));
      assertThat(rows.listDeploys(SITE)).isEmpty();
      assertThat(rows.listAliases(SITE)).isEmpty();
      assertThat(rows.listTombstones(SITE)).isEmpty();
      assertThat(rows.listSites(null, 10)).containsExactly(OTHER_SITE);
      assertThat(drainEventTypes()).containsExactly(StandardEvents.SITE_DELETED);
      assertThat(metadata.deleteSite(SITE, ACTOR).removedAnything()).isFalse();
      assertThat(drainEvents()).isEmpty();
      assertThat(rows.auditLog(SITE, 1).get(0).action())
          .isEqualTo(MetadataCommands.ACTION_DELETE_SITE);
    }

    @Test
    @DisplayName("a step on a site deleted mid-pipeline fails cleanly as not found")
    void deletedMidPipeline() {
      metadata.createPending(SITE, deployId(1), sha(1), ACTOR);
      metadata.deleteSite(SITE, ACTOR);
      // While the purge deletes the bytes, the PURGING record refuses every command...
      assertThatThrownBy(
              () -> metadata.activate(SITE, deployId(1), PROD, AliasExpectation.ANY, ACTOR))
          .isInstanceOf(dev.durabledeploy.spi.exception.SiteStateException.class)
          .hasMessageContaining("being purged");
      assertThat(metadata.forgetSite(SITE)).isTrue();
      // ...and once it is forgotten, the deploy is simply gone.
      assertThatThrownBy(
              () -> metadata.activate(SITE, deployId(1), PROD, AliasExpectation.ANY, ACTOR))
          .isInstanceOf(DeployNotFoundException.class);
      assertThatThrownBy(() -> metadata.tombstone(SITE, deployId(1), WINDOW, ACTOR))
          .isInstanceOf(DeployNotFoundException.class);
    }

    @Test
    @DisplayName("queries on an unknown site answer empty")
    void unknownSite() {
      SiteId ghost = SiteId.of("ghost");
      assertThat(rows.listDeploys(ghost)).isEmpty();
      assertThat(rows.listAliases(ghost)).isEmpty();
      assertThat(rows.listTombstones(ghost)).isEmpty();
      assertThat(rows.findDeploy(ghost, deployId(1))).isEmpty();
      assertThat(rows.findAlias(ghost, PROD)).isEmpty();
      assertThat(rows.auditLog(ghost, 5)).isEmpty();
    }
  }

  @Nested
  @DisplayName("the audit log")
  class Audit {

    @Test
    @DisplayName("records actor, action, target, before and after of each command, newest first")
    void records() {
      finalized(1, PROD);
      unaliased(2);
      Actor alice = Actor.of("user:alice");
      metadata.moveAlias(SITE, PROD, deployId(2), AliasExpectation.ANY, alice);
      List<AuditEntry> log = rows.auditLog(SITE, 10);
      assertThat(log)
          .extracting(AuditEntry::action)
          .containsExactly(
              MetadataCommands.ACTION_ALIAS_MOVE,
              MetadataCommands.ACTION_ADOPT,
              MetadataCommands.ACTION_ACTIVATE,
              MetadataCommands.ACTION_CREATE,
              MetadataCommands.ACTION_REGISTER_SITE);
      AuditEntry move = log.get(0);
      assertThat(move.actor()).isEqualTo(alice);
      assertThat(move.site()).isEqualTo(SITE);
      assertThat(move.target()).isEqualTo("alias:production");
      assertThat(move.before()).isEqualTo(deployId(1).value());
      assertThat(move.after()).isEqualTo(deployId(2).value());
      assertThat(move.at()).isEqualTo(clock.instant());
      assertThat(rows.auditLog(SITE, 2)).hasSize(2);
    }

    @Test
    @DisplayName("SQL- and script-special characters in actors round-trip unchanged")
    void specialCharacters() {
      Actor nasty = Actor.of("o'brien\"; DROP TABLE deploys; -- {x} %s \\ ü 😀");
      metadata.createPending(SITE, deployId(1), null, nasty);
      assertThat(rows.auditLog(SITE, 1).get(0).actor()).isEqualTo(nasty);
    }
  }

  @Test
  @DisplayName("every command's events carry the site and the standard payload")
  void eventsCarrySite() {
    finalized(1, PROD);
    for (OutboxEvent e : drainEvents()) {
      assertThat(e.site()).isEqualTo(SITE);
      assertThat(e.payload()).containsEntry(StandardEvents.KEY_SITE, SITE.value());
      assertThat(e.payload()).isInstanceOf(Map.class);
    }
  }
}
