package dev.durabledeploy.testkit.memory;

import static org.assertj.core.api.Assertions.assertThat;

import dev.durabledeploy.spi.git.RepoId;
import dev.durabledeploy.spi.git.RepoRef;
import dev.durabledeploy.spi.git.RepoSource;
import dev.durabledeploy.testkit.tck.RepoSourceContract;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

class InMemoryRepoSourceTest extends RepoSourceContract {

  private InMemoryRepoSource memory;

  @Override
  protected RepoSource createSource(Path root) {
    memory = new InMemoryRepoSource(root);
    return memory;
  }

  @Override
  protected RepoRef publishRemote(String id, Map<String, String> files) {
    memory.publish(RepoId.of(id), files);
    return missingRemote(id);
  }

  @Override
  protected RepoRef missingRemote(String id) {
    return RepoRef.of(id, "https://git.example.com/" + id + ".git", "main");
  }

  @Test
  @DisplayName("a warm hit does not clone again")
  void warmHit() {
    RepoRef repo = publishRemote("warm", Map.of("a", "b"));
    source.ensureClone(repo);
    source.ensureClone(repo);
    assertThat(memory.cloneCount()).isEqualTo(1);
  }
}
