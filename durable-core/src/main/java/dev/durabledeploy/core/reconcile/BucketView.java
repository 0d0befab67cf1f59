package dev.durabledeploy.core.reconcile;

import dev.durabledeploy.core.deploy.BlobLayout;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.InvalidInputException;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.blob.BlobInfo;
import dev.durabledeploy.spi.blob.BlobPrefix;
import dev.durabledeploy.spi.blob.BlobStore;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * A site as its bucket shows it: which deploy prefixes hold bytes (and a marker), the files of
 * each, which trash prefixes exist, and which prefixes are not deploy ids at all. Prefix names are
 * parsed into {@link DeployId}s before any comparison with the index, so a form mismatch (a
 * trailing slash, a path prefix, another case) shows up as drift instead of hiding it.
 *
 * @param files each deploy's objects by path relative to the deploy, the marker excluded
 */
record BucketView(
    TreeMap<DeployId, Boolean> deploys,
    Map<DeployId, Map<String, BlobInfo>> files,
    Set<DeployId> trash,
    Set<String> unrecognized) {

  static BucketView read(BlobStore blobs, SiteId site) {
    TreeMap<DeployId, Boolean> deploys = new TreeMap<>();
    Map<DeployId, Map<String, BlobInfo>> files = new HashMap<>();
    Set<DeployId> trash = new TreeSet<>();
    Set<String> unrecognized = new TreeSet<>();
    BlobPrefix deployRoot = BlobLayout.deploys(site);
    for (BlobInfo info : blobs.listAll(deployRoot)) {
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
    for (BlobInfo info : blobs.listAll(trashRoot)) {
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
    return new BucketView(deploys, files, trash, unrecognized);
  }

  private static DeployId parse(String segment) {
    try {
      return DeployId.of(segment);
    } catch (InvalidInputException notADeployId) {
      return null;
    }
  }

  boolean isEmpty() {
    return deploys.isEmpty() && trash.isEmpty() && unrecognized.isEmpty();
  }
}
