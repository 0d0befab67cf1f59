package dev.durabledeploy.core.reconcile;

import dev.durabledeploy.core.deploy.BlobLayout;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.blob.BlobInfo;
import dev.durabledeploy.spi.blob.BlobKey;
import dev.durabledeploy.spi.blob.BlobPage;
import dev.durabledeploy.spi.blob.BlobPrefix;
import dev.durabledeploy.spi.blob.BlobStore;
import dev.durabledeploy.spi.blob.ForeignBlob;
import dev.durabledeploy.spi.exception.InvalidInputException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * A site as its bucket shows it: which deploy prefixes hold bytes (and a marker), the files of
 * each, which trash prefixes exist, and which prefixes are not deploy ids at all. Prefix names are
 * parsed into {@link DeployId}s before any comparison with the index, so a form mismatch (a
 * trailing slash, a path prefix, another case) shows up as drift instead of hiding it. Objects
 * under keys that are not blob keys at all ({@link ForeignBlob}) are kept apart: they count as
 * nobody's bytes.
 *
 * @param files each deploy's objects by path relative to the deploy, the marker excluded
 * @param aliases the alias projection objects ({@code aliases/<alias>.json}) by alias
 */
record BucketView(
    TreeMap<DeployId, Boolean> deploys,
    Map<DeployId, Map<String, BlobInfo>> files,
    Set<DeployId> trash,
    Set<String> unrecognized,
    List<ForeignBlob> foreign,
    Map<AliasName, BlobInfo> aliases) {

  static BucketView read(BlobStore blobs, SiteId site) {
    TreeMap<DeployId, Boolean> deploys = new TreeMap<>();
    Map<DeployId, Map<String, BlobInfo>> files = new HashMap<>();
    Set<DeployId> trash = new TreeSet<>();
    Set<String> unrecognized = new TreeSet<>();
    List<ForeignBlob> foreign = new ArrayList<>();
    BlobPrefix deployRoot = BlobLayout.deploys(site);
    for (BlobInfo info : listAll(blobs, deployRoot, foreign)) {
      String relative = info.key().relativeTo(deployRoot);
      int slash = relative.indexOf('/');
      DeployId id = slash < 0 ? null : parse(relative.substring(0, slash));
      if (id == null) {
        unrecognized.add(
            deployRoot.value() + (slash < 0 ? relative : relative.substring(0, slash + 1)));
        continue;
      }
      String path = relative.substring(slash + 1);
      boolean marker = path.equals(BlobLayout.MARKER_NAME);
      deploys.merge(id, marker, Boolean::logicalOr);
      if (!marker) {
        files.computeIfAbsent(id, k -> new TreeMap<>()).put(path, info);
      }
    }
    BlobPrefix trashRoot = BlobLayout.trash(site);
    for (BlobInfo info : listAll(blobs, trashRoot, foreign)) {
      String relative = info.key().relativeTo(trashRoot);
      int slash = relative.indexOf('/');
      DeployId id = slash < 0 ? null : parse(relative.substring(0, slash));
      if (id == null) {
        unrecognized.add(
            trashRoot.value() + (slash < 0 ? relative : relative.substring(0, slash + 1)));
      } else {
        trash.add(id);
      }
    }
    // Alias projections: a key there that no alias name projects to is not the library's and is
    // left out (a serve plane's own files, say); it does not make the site look non-empty either.
    Map<AliasName, BlobInfo> aliases = new TreeMap<>();
    BlobPrefix aliasRoot = BlobLayout.aliases(site);
    for (BlobInfo info : listAll(blobs, aliasRoot, new ArrayList<>())) {
      String relative = info.key().relativeTo(aliasRoot);
      AliasName alias =
          relative.endsWith(".json")
              ? parseAlias(relative.substring(0, relative.length() - ".json".length()))
              : null;
      if (alias != null && BlobLayout.alias(site, alias).equals(info.key())) {
        aliases.put(alias, info);
      }
    }
    return new BucketView(deploys, files, trash, unrecognized, List.copyOf(foreign), aliases);
  }

  /** Every item under the prefix; its foreign objects go to {@code foreign}. */
  private static List<BlobInfo> listAll(
      BlobStore blobs, BlobPrefix prefix, List<ForeignBlob> foreign) {
    List<BlobInfo> all = new ArrayList<>();
    BlobKey after = null;
    do {
      BlobPage page = blobs.list(prefix, after, 1000);
      all.addAll(page.items());
      foreign.addAll(page.foreign());
      after = page.next();
    } while (after != null);
    return all;
  }

  private static AliasName parseAlias(String name) {
    try {
      return AliasName.of(name);
    } catch (InvalidInputException notAnAlias) {
      return null;
    }
  }

  private static DeployId parse(String segment) {
    try {
      return DeployId.of(segment);
    } catch (InvalidInputException notADeployId) {
      return null;
    }
  }

  /**
   * Whether the bucket shows nothing the library wrote. Foreign objects do not count: a site whose
   * listing holds only them has lost its bytes as far as the index is concerned, and the refusal to
   * repair an empty-looking site must hold for it too.
   */
  boolean isEmpty() {
    return deploys.isEmpty() && trash.isEmpty() && unrecognized.isEmpty();
  }
}
