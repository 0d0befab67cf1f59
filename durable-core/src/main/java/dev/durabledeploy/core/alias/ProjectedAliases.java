package dev.durabledeploy.core.alias;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.durabledeploy.core.deploy.BlobLayout;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.blob.BlobContent;
import dev.durabledeploy.spi.blob.BlobInfo;
import dev.durabledeploy.spi.blob.BlobKey;
import dev.durabledeploy.spi.blob.BlobPage;
import dev.durabledeploy.spi.blob.BlobPrefix;
import dev.durabledeploy.spi.blob.BlobStore;
import dev.durabledeploy.spi.blob.ForeignBlob;
import dev.durabledeploy.spi.exception.InvalidInputException;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Reads a site's alias projection objects as {@link AliasProjection} writes them: {@code
 * <site>/aliases/<alias>.json} holding {@code {"deployId": "<id>" | null, "version": <n>}}, where a
 * null target is a deleted alias. What a serve plane reading the bucket serves, so backfill
 * restores alias rows from it and GC keeps what it names ({@code KeepReason.PROJECTED}).
 *
 * <p>Strict: an object whose name is not a valid alias name with {@code .json}, that is not JSON,
 * or whose target or version is not what the projection writes is reported {@link Unreadable} with
 * the reason, never guessed at.
 */
public final class ProjectedAliases {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String SUFFIX = ".json";
  private static final int PAGE = 1000;

  /**
   * One readable projection object.
   *
   * @param target the deploy it points at, or {@code null} for a deleted alias
   * @param version the alias version it was projected from, 1 or more
   */
  public record Entry(AliasName alias, BlobKey key, DeployId target, long version) {}

  /**
   * The highest version a projection may carry to be adopted: a million moves a second for thirty
   * years stays below it, and it leaves room for every move after.
   */
  public static final long MAX_VERSION = 1L << 50;

  /**
   * An object under the site's aliases prefix that is not a readable projection.
   *
   * @param key the object's key (a foreign key as {@link ForeignBlob#toString()} renders it)
   */
  public record Unreadable(String key, String reason) {}

  /** A site's projection objects, by alias name, and the objects that could not be read. */
  public record Listing(List<Entry> entries, List<Unreadable> unreadable) {
    public Listing {
      entries = List.copyOf(entries);
      unreadable = List.copyOf(unreadable);
    }

    /** The deploys the live projections point at. */
    public List<DeployId> targets() {
      return entries.stream().map(Entry::target).filter(t -> t != null).toList();
    }
  }

  private ProjectedAliases() {}

  /** Lists and reads every object under {@code <site>/aliases/}. Idempotent; reads only. */
  public static Listing read(BlobStore blobs, SiteId site) {
    BlobPrefix prefix = BlobLayout.aliases(site);
    List<Entry> entries = new ArrayList<>();
    List<Unreadable> unreadable = new ArrayList<>();
    BlobKey after = null;
    do {
      BlobPage page = blobs.list(prefix, after, PAGE);
      for (ForeignBlob foreign : page.foreign()) {
        unreadable.add(new Unreadable(foreign.toString(), "not a valid key: " + foreign.reason()));
      }
      for (BlobInfo info : page.items()) {
        read(blobs, prefix, info.key()).ifPresent(r -> r.accept(entries, unreadable));
      }
      after = page.next();
    } while (after != null);
    return new Listing(entries, unreadable);
  }

  /** Either an entry or why there is none; empty when the object vanished since the listing. */
  private record Read(Entry entry, Unreadable unreadable) {
    void accept(List<Entry> entries, List<Unreadable> problems) {
      if (entry != null) {
        entries.add(entry);
      } else {
        problems.add(unreadable);
      }
    }
  }

  private static Optional<Read> read(BlobStore blobs, BlobPrefix prefix, BlobKey key) {
    String name = key.relativeTo(prefix);
    AliasName alias = null;
    if (name.endsWith(SUFFIX) && !name.contains("/")) {
      try {
        alias = AliasName.of(name.substring(0, name.length() - SUFFIX.length()));
      } catch (InvalidInputException invalid) {
        // reported below
      }
    }
    if (alias == null) {
      return Optional.of(
          problem(key, "not an alias projection: the name is not <alias>.json with a valid alias"));
    }
    Optional<BlobContent> content = blobs.get(key);
    if (content.isEmpty()) {
      return Optional.empty();
    }
    byte[] bytes;
    try (BlobContent c = content.get()) {
      bytes = c.readAllBytes();
    }
    try {
      return Optional.of(new Read(parse(alias, key, bytes), null));
    } catch (IllegalArgumentException malformed) {
      return Optional.of(problem(key, malformed.getMessage()));
    }
  }

  private static Read problem(BlobKey key, String reason) {
    return new Read(null, new Unreadable(key.value(), reason));
  }

  /** Parses one projection object; {@link IllegalArgumentException} says what is wrong. */
  static Entry parse(AliasName alias, BlobKey key, byte[] json) {
    JsonNode node;
    try {
      node = JSON.readTree(json);
    } catch (IOException e) {
      throw new IllegalArgumentException("not JSON");
    }
    if (node == null || !node.isObject()) {
      throw new IllegalArgumentException("not a JSON object");
    }
    JsonNode version = node.get("version");
    if (version == null || !version.canConvertToExactIntegral() || version.asLong() < 1) {
      throw new IllegalArgumentException("has no \"version\" of 1 or more");
    }
    if (!version.canConvertToLong() || version.asLong() > MAX_VERSION) {
      // A version no run of moves reaches: adopted, it would leave no room for the next move.
      throw new IllegalArgumentException(
          "has a \"version\" above " + MAX_VERSION + ", which no alias reaches by moves");
    }
    JsonNode target = node.get("deployId");
    if (target == null) {
      throw new IllegalArgumentException("has no \"deployId\"");
    }
    if (target.isNull()) {
      return new Entry(alias, key, null, version.asLong());
    }
    if (!target.isTextual()) {
      throw new IllegalArgumentException("its \"deployId\" is not a string");
    }
    try {
      return new Entry(alias, key, DeployId.of(target.asText()), version.asLong());
    } catch (InvalidInputException notADeployId) {
      throw new IllegalArgumentException(
          "its \"deployId\" is not a deploy id: " + notADeployId.reason());
    }
  }
}
