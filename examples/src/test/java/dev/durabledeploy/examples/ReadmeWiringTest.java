package dev.durabledeploy.examples;

import static org.assertj.core.api.Assertions.assertThat;

import dev.durabledeploy.blob.s3.S3BlobStore;
import dev.durabledeploy.core.DurableDeploy;
import dev.durabledeploy.core.deploy.DeployService;
import dev.durabledeploy.core.deploy.Manifest;
import dev.durabledeploy.engine.executor.ExecutorEngine;
import dev.durabledeploy.spi.Actor;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.UploadPath;
import dev.durabledeploy.spi.metadata.AliasExpectation;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.store.postgres.PostgresStore;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The README's wiring snippet is code that compiles: {@link #wiring} holds it, and the test fails
 * when the README's snippet and this method's body differ (ignoring layout and comments). It is not
 * run: it names an AWS bucket and a database host that tests do not have.
 */
class ReadmeWiringTest {

  @SuppressWarnings("unused")
  static void wiring(
      String secret, SiteId site, String sha, InputStream in, long size, DeployId other) {
    // README "Wiring" starts here.
    try (PostgresStore store =
            PostgresStore.builder()
                .jdbcUrl("jdbc:postgresql://db:5432/app")
                .username("app")
                .password(secret)
                .migrateOnStart(true)
                .build();
        S3BlobStore blobs = S3BlobStore.builder().bucket("my-deploys").region("eu-west-1").build();
        DurableDeploy plane =
            DurableDeploy.builder()
                .store(store)
                .blobStore(blobs)
                .engine(ExecutorEngine.builder().build())
                .build()
                .start()) {
      DeployService deploys = plane.deploys().as(Actor.of("user:alice"));
      Deploy d = deploys.init(site, sha);
      deploys.upload(site, d.id(), UploadPath.of("index.html"), in, size);
      deploys.finalizeDeploy(site, d.id(), AliasName.PRODUCTION, Manifest.of("index.html"));
      deploys.promote(site, other, AliasName.PRODUCTION, AliasExpectation.version(1));
    }
    // README "Wiring" ends here.
  }

  @Test
  @DisplayName("the README's wiring is the code this test compiles")
  void readmeShowsThisCode() throws IOException {
    Path module = Path.of(System.getProperty("basedir", System.getProperty("user.dir")));
    String readme = Files.readString(module.resolve("../README.md"));
    int section = readme.indexOf("## Wiring");
    assertThat(section).as("README has a Wiring section").isNotNegative();
    int start = readme.indexOf("```java\n", section) + "```java\n".length();
    String snippet = readme.substring(start, readme.indexOf("```", start));

    String source =
        Files.readString(
            module.resolve("src/test/java/dev/durabledeploy/examples/ReadmeWiringTest.java"));
    String body =
        source.substring(
            source.indexOf("// README \"Wiring\" starts here."),
            source.indexOf("// README \"Wiring\" ends here."));

    assertThat(code(body)).isEqualTo(code(snippet));
  }

  /** The code without comments and whitespace, so formatting cannot make the two differ. */
  private static String code(String text) {
    // A comment starts after whitespace; "jdbc:postgresql://" is code.
    return text.replaceAll("(?m)(^|\\s)//[^\n]*", "").replaceAll("\\s+", "");
  }
}
