package dev.durabledeploy.testkit.memory;

import static org.assertj.core.api.Assertions.assertThat;

import dev.durabledeploy.spi.Actor;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.Store;
import dev.durabledeploy.spi.blob.BlobKey;
import dev.durabledeploy.spi.blob.BlobMetadata;
import dev.durabledeploy.spi.engine.WorkflowEngine;
import dev.durabledeploy.spi.metadata.DeployState;
import dev.durabledeploy.testkit.MutableClock;
import java.io.ByteArrayInputStream;
import java.nio.file.Path;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Code written against the old package still compiles and gets the same adapters. */
@SuppressWarnings("removal")
@DisplayName("the deprecated testkit.memory names")
class DeprecatedAliasesTest {

  @Test
  @DisplayName("construct the store-memory adapters, which work as before")
  void aliasesWork(@TempDir Path root) {
    MutableClock clock = new MutableClock();
    try (Store store = new InMemoryStore(clock)) {
      assertThat(store).isInstanceOf(dev.durabledeploy.store.memory.InMemoryStore.class);
      SiteId site = SiteId.of("site-a");
      var deploy =
          store
              .metadata()
              .createPending(
                  site,
                  dev.durabledeploy.spi.DeployId.forSha(clock.instant(), "abc1234"),
                  "abc1234",
                  Actor.of("user:tck"));
      assertThat(deploy.state()).isEqualTo(DeployState.PENDING);
    }
    InMemoryBlobStore blobs = new InMemoryBlobStore(clock);
    BlobKey key = BlobKey.of("a/b.txt");
    blobs.put(
        key, new ByteArrayInputStream(new byte[] {1, 2}), 2, BlobMetadata.ofType("text/plain"));
    assertThat(blobs.stat(key)).isPresent();
    WorkflowEngine engine = new InMemoryWorkflowEngine();
    assertThat(engine).isInstanceOf(dev.durabledeploy.store.memory.InMemoryWorkflowEngine.class);
    assertThat(new InMemoryRepoSource(root))
        .isInstanceOf(dev.durabledeploy.store.memory.InMemoryRepoSource.class);
  }
}
