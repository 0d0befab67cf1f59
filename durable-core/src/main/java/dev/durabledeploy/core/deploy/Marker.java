package dev.durabledeploy.core.deploy;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import java.time.Instant;

/**
 * The marker finalize writes into a deploy prefix: proof that the upload completed, and what a
 * backfill needs to rebuild the index row from the bucket alone.
 */
public record Marker(String site, String deployId, String sha, Instant finalizedAt, int files) {

  private static final ObjectMapper JSON = new ObjectMapper();

  public static Marker of(SiteId site, DeployId id, String sha, Instant finalizedAt, int files) {
    return new Marker(site.value(), id.value(), sha, finalizedAt, files);
  }

  public byte[] toJson() {
    try {
      return JSON.writeValueAsBytes(
          java.util.Map.of(
              "site", site,
              "deployId", deployId,
              "sha", sha == null ? "" : sha,
              "finalizedAt", finalizedAt.toString(),
              "files", files));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("a marker always serialises", e);
    }
  }

  /** Parses a marker; throws {@link IllegalArgumentException} naming what is wrong. */
  public static Marker parse(byte[] json) {
    try {
      var node = JSON.readTree(json);
      String sha = node.path("sha").asText("");
      return new Marker(
          node.path("site").asText(),
          node.path("deployId").asText(),
          sha.isEmpty() ? null : sha,
          Instant.parse(node.path("finalizedAt").asText()),
          node.path("files").asInt());
    } catch (java.io.IOException | java.time.format.DateTimeParseException e) {
      throw new IllegalArgumentException("not a durable-deploy marker: " + e.getMessage(), e);
    }
  }
}
