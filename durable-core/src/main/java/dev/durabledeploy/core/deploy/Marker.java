package dev.durabledeploy.core.deploy;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import java.time.Instant;
import java.util.Collections;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * The marker finalize writes into a deploy prefix: proof that the upload completed, what a backfill
 * needs to rebuild the index row from the bucket alone, and what finalize verified — each file of
 * the prefix at that moment with its size, the store's etag and its SHA-256 where known — so the
 * reconciler can tell when a finalized deploy's bytes no longer match.
 *
 * @param files how many files the manifest listed
 * @param verified every file of the deploy as finalize saw it, by path relative to the deploy;
 *     empty in markers written before version 2 of the marker
 */
public record Marker(
    String site,
    String deployId,
    String sha,
    Instant finalizedAt,
    int files,
    Map<String, VerifiedFile> verified) {

  private static final ObjectMapper JSON = new ObjectMapper();

  /**
   * One file as finalize verified it.
   *
   * @param etag the blob store's etag, or {@code null} when the store has none
   * @param sha256 the SHA-256, or {@code null} when neither the store nor the manifest knew it
   */
  public record VerifiedFile(long size, String etag, String sha256) {}

  public Marker {
    Objects.requireNonNull(finalizedAt, "finalizedAt");
    verified = Collections.unmodifiableMap(new TreeMap<>(verified));
  }

  /** A marker that records no files (as written before version 2 of the marker). */
  public Marker(String site, String deployId, String sha, Instant finalizedAt, int files) {
    this(site, deployId, sha, finalizedAt, files, Map.of());
  }

  public static Marker of(SiteId site, DeployId id, String sha, Instant finalizedAt, int files) {
    return new Marker(site.value(), id.value(), sha, finalizedAt, files);
  }

  public static Marker of(
      SiteId site,
      DeployId id,
      String sha,
      Instant finalizedAt,
      int files,
      Map<String, VerifiedFile> verified) {
    return new Marker(site.value(), id.value(), sha, finalizedAt, files, verified);
  }

  public byte[] toJson() {
    ObjectNode root = JSON.createObjectNode();
    root.put("site", site);
    root.put("deployId", deployId);
    root.put("sha", sha == null ? "" : sha);
    root.put("finalizedAt", finalizedAt.toString());
    root.put("files", files);
    ObjectNode files = root.putObject("verified");
    verified.forEach(
        (path, f) -> {
          ObjectNode file = files.putObject(path);
          file.put("size", f.size());
          if (f.etag() != null) {
            file.put("etag", f.etag());
          }
          if (f.sha256() != null) {
            file.put("sha256", f.sha256());
          }
        });
    try {
      return JSON.writeValueAsBytes(root);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("a marker always serialises", e);
    }
  }

  /** Parses a marker; throws {@link IllegalArgumentException} naming what is wrong. */
  public static Marker parse(byte[] json) {
    try {
      var node = JSON.readTree(json);
      String sha = node.path("sha").asText("");
      Map<String, VerifiedFile> verified = new TreeMap<>();
      for (Map.Entry<String, JsonNode> e : node.path("verified").properties()) {
        JsonNode f = e.getValue();
        verified.put(
            e.getKey(),
            new VerifiedFile(
                f.path("size").asLong(),
                f.hasNonNull("etag") ? f.get("etag").asText() : null,
                f.hasNonNull("sha256") ? f.get("sha256").asText() : null));
      }
      return new Marker(
          node.path("site").asText(),
          node.path("deployId").asText(),
          sha.isEmpty() ? null : sha,
          Instant.parse(node.path("finalizedAt").asText()),
          node.path("files").asInt(),
          verified);
    } catch (java.io.IOException | java.time.format.DateTimeParseException e) {
      throw new IllegalArgumentException("not a durable-deploy marker: " + e.getMessage(), e);
    }
  }
}
