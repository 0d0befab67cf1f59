package dev.durabledeploy.core.metadata;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.durabledeploy.spi.Actor;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.exception.AliasDriftException;
import dev.durabledeploy.spi.exception.TransientStoreException;
import dev.durabledeploy.spi.metadata.AliasExpectation;
import dev.durabledeploy.spi.metadata.MetadataStore;
import dev.durabledeploy.store.memory.InMemoryStore;
import dev.durabledeploy.testkit.MutableClock;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/** Review of issue 23: MetadataCommands used by a host, under an ambiguous store failure. */
class MetadataCommandsLostReplyTest {

  private static final SiteId SITE = SiteId.of("site-a");
  private static final Actor ACTOR = Actor.of("user:review");
  private static final AliasName PROD = AliasName.PRODUCTION;

  // An ambiguous failure (the unit of work committed, its reply was lost: a Valkey connection
  // reset after EVALSHA, a PostgreSQL commit whose acknowledgement never arrived) is a
  // TransientStoreException, which DeployService retries. The retry of a version-guarded move then
  // meets the caller's own move. It is reported as drift carrying the current alias, which targets
  // the caller's own target, so the caller can tell; answering "that was us" instead would count
  // another writer's identical move as ours (AliasMoves.move says why). This pins that decision.
  @Test
  void retriedMoveAfterALostReplyIsDriftShowingItsOwnTarget() {
    MutableClock clock = new MutableClock();
    MetadataStore real = new InMemoryStore(clock).metadata();
    AtomicBoolean loseNextReply = new AtomicBoolean();
    MetadataStore flaky =
        (MetadataStore)
            Proxy.newProxyInstance(
                MetadataStore.class.getClassLoader(),
                new Class<?>[] {MetadataStore.class},
                (proxy, method, args) -> {
                  Object result;
                  try {
                    result = method.invoke(real, args);
                  } catch (InvocationTargetException e) {
                    throw e.getCause();
                  }
                  if (method.getName().equals("inSite") && loseNextReply.getAndSet(false)) {
                    throw new TransientStoreException("connection reset (reply lost)", null);
                  }
                  return result;
                });
    MetadataCommands commands = new MetadataCommands(flaky);
    DeployId one = DeployId.forSha(Instant.parse("2026-01-15T10:00:01Z"), "abc0001");
    DeployId two = DeployId.forSha(Instant.parse("2026-01-15T10:00:02Z"), "abc0002");
    commands.createPending(SITE, one, "abc0001", ACTOR);
    commands.activate(SITE, one, PROD, AliasExpectation.ANY, ACTOR);
    commands.createPending(SITE, two, "abc0002", ACTOR);
    commands.activate(SITE, two, AliasName.PREVIEW, AliasExpectation.ANY, ACTOR);
    long version = real.findAlias(SITE, PROD).orElseThrow().version();

    loseNextReply.set(true);
    assertThatThrownBy(
            () -> commands.moveAlias(SITE, PROD, two, AliasExpectation.version(version), ACTOR))
        .isInstanceOf(TransientStoreException.class);
    assertThat(real.findAlias(SITE, PROD).orElseThrow().target()).isEqualTo(two); // it landed
    // What the core's retrier does next: the same call again.
    assertThatThrownBy(
            () -> commands.moveAlias(SITE, PROD, two, AliasExpectation.version(version), ACTOR))
        .isInstanceOfSatisfying(
            AliasDriftException.class,
            drift -> {
              assertThat(drift.current().orElseThrow().target()).isEqualTo(two);
              assertThat(drift.current().orElseThrow().version()).isEqualTo(version + 1);
            });
  }
}
