package dev.durabledeploy.store.memory;

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
    return publishRemote(id, "main", files);
  }

  @Override
  protected RepoRef publishRemote(String id, String branch, Map<String, String> files) {
    RepoRef ref = RepoRef.of(id, "https://git.example.com/" + id + ".git", branch);
    memory.publish(ref, files);
    return ref;
  }

  @Override
  protected RepoRef missingRemote(String id) {
    return RepoRef.of(id, "https://git.example.com/missing/" + id + ".git", "main");
  }

  @Test
  @DisplayName("a remote published for an id is found whatever the URL")
  void publishedById() throws Exception {
    memory.publish(RepoId.of("by-id"), Map.of("a", "b"));
    Path tree = source.ensureClone(missingRemote("by-id"));
    assertThat(java.nio.file.Files.readString(tree.resolve("a"))).isEqualTo("b");
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
