package dev.durabledeploy.core.deploy;

import dev.durabledeploy.core.DeployOptions;
import dev.durabledeploy.core.events.Operations;
import dev.durabledeploy.core.events.Operations.Operation;
import dev.durabledeploy.core.metadata.MetadataCommands;
import dev.durabledeploy.core.retry.Retrier;
import dev.durabledeploy.spi.Actor;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.UploadPath;
import dev.durabledeploy.spi.blob.BlobContent;
import dev.durabledeploy.spi.blob.BlobInfo;
import dev.durabledeploy.spi.blob.BlobKey;
import dev.durabledeploy.spi.blob.BlobMetadata;
import dev.durabledeploy.spi.blob.BlobStore;
import dev.durabledeploy.spi.exception.AliasDriftException;
import dev.durabledeploy.spi.exception.DeployStateException;
import dev.durabledeploy.spi.exception.DurableDeployException;
import dev.durabledeploy.spi.exception.InvalidInputException;
import dev.durabledeploy.spi.metadata.Alias;
import dev.durabledeploy.spi.metadata.AliasExpectation;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.spi.metadata.DeployState;
import dev.durabledeploy.spi.metadata.MetadataStore;
import dev.durabledeploy.spi.support.Threads;
import java.io.ByteArrayInputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * The finalize saga's steps, run under the site lock that {@link DeployService} takes: manifest
 * checks, the seal, verification of the sealed deploy (listing, sizes, SHA-256s read by {@value
 * DeployService#DIGEST_CHECKS_IN_PARALLEL} readers, the files limit), the marker, activation, and
 * the unseal when verification fails or the alias drifted. The actor is passed per call, so one
 * instance serves every {@link DeployService#as} view.
 */
final class Finalization {

  private final MetadataStore metadata;
  private final MetadataCommands commands;
  private final BlobStore blobs;
  private final Operations operations;
  private final Retrier retrier;
  private final DeployOptions options;
  private final UploadCounter uploads;

  Finalization(
      MetadataStore metadata,
      MetadataCommands commands,
      BlobStore blobs,
      Operations operations,
      Retrier retrier,
      DeployOptions options,
      UploadCounter uploads) {
    this.metadata = metadata;
    this.commands = commands;
    this.blobs = blobs;
    this.operations = operations;
    this.retrier = retrier;
    this.options = options;
    this.uploads = uploads;
  }

  /** Finalizes the deploy as {@code op}, which holds the site lock, recording {@code actor}. */
  Finalized finalizeDeploy(
      Operation op,
      SiteId site,
      DeployId deployId,
      AliasName alias,
      Manifest manifest,
      AliasExpectation expect,
      Actor actor) {
    Deploy deploy = requireDeploy(op, site, deployId);
    if (deploy.isActive()) {
      Optional<Alias> current = retrier.call(op, () -> metadata.findAlias(site, alias));
      if (current.isPresent() && current.get().target().equals(deployId)) {
        return new Finalized(deploy, current.get());
      }
      throw new DeployStateException(
          site, deployId, DeployState.ACTIVE, "it is already finalized; promote it instead");
    }
    checkManifest(manifest);
    retrier.call(op, () -> commands.beginFinalize(site, deployId, actor));
    Map<String, Marker.VerifiedFile> verified;
    try {
      verified = verify(op, site, deployId, manifest);
    } catch (InvalidInputException failed) {
      // Incomplete, mismatched or over the files limit: nothing written yet.
      unseal(op, site, deployId, actor);
      throw failed;
    }
    Marker marker =
        Marker.of(
            site, deployId, deploy.sha(), operations.clock().instant(), manifest.size(), verified);
    byte[] json = marker.toJson();
    retrier.run(
        op,
        () ->
            blobs.put(
                BlobLayout.marker(site, deployId),
                new ByteArrayInputStream(json),
                json.length,
                BlobMetadata.ofType("application/json")));
    Alias moved;
    try {
      moved = retrier.call(op, () -> commands.activate(site, deployId, alias, expect, actor));
    } catch (AliasDriftException drift) {
      // Not finalized after all: the marker goes before the deploy is unsealed, so a pending
      // deploy holds none (GC would keep it for retention rather than grace). Should the
      // delete fail, the deploy stays sealed, like a finalize that crashed: the next
      // finalize resumes it.
      try {
        retrier.run(op, () -> blobs.delete(BlobLayout.marker(site, deployId)));
      } catch (RuntimeException e) {
        drift.addSuppressed(e);
        throw drift;
      }
      unseal(op, site, deployId, actor);
      throw drift;
    }
    uploads.forget(site, deployId);
    return new Finalized(requireDeploy(op, site, deployId), moved);
  }

  private void unseal(Operation op, SiteId site, DeployId deployId, Actor actor) {
    retrier.call(op, () -> commands.abortFinalize(site, deployId, actor));
  }

  private void checkManifest(Manifest manifest) {
    if (manifest.files().isEmpty()) {
      throw new InvalidInputException("manifest", "is empty; a deploy needs at least index.html");
    }
    if (!manifest.files().contains(UploadPath.INDEX_HTML)) {
      throw new InvalidInputException("manifest", "does not contain index.html");
    }
    if (manifest.size() > options.maxFilesPerDeploy()) {
      throw new InvalidInputException(
          "manifest",
          "lists "
              + manifest.size()
              + " files; at most "
              + options.maxFilesPerDeploy()
              + " allowed");
    }
  }

  /**
   * Lists the sealed deploy and checks it against the manifest; returns every file as verified, by
   * path relative to the deploy.
   */
  private Map<String, Marker.VerifiedFile> verify(
      Operation op, SiteId site, DeployId deployId, Manifest manifest) {
    var prefix = BlobLayout.deploy(site, deployId);
    Map<String, BlobInfo> present = new TreeMap<>();
    for (BlobInfo info : retrier.call(op, () -> blobs.listAll(prefix))) {
      String relative = info.key().relativeTo(prefix);
      if (!relative.equals(BlobLayout.MARKER_NAME)) {
        present.put(relative, info);
      }
    }
    // Uploads count files per host (see UploadCounter); only the listing sees every host's.
    if (present.size() > options.maxFilesPerDeploy()) {
      throw new InvalidInputException(
          "files",
          "deploy "
              + deployId
              + " holds "
              + present.size()
              + " files, more than the maximum of "
              + options.maxFilesPerDeploy()
              + " (uploads through several hosts are counted by each host alone); upload the"
              + " site to a new deploy with at most "
              + options.maxFilesPerDeploy()
              + " files");
    }
    List<UploadPath> missing =
        manifest.files().stream().filter(p -> !present.containsKey(p.value())).toList();
    if (!missing.isEmpty()) {
      throw new ManifestIncompleteException(missing);
    }
    List<ManifestMismatchException.Mismatch> mismatches = new ArrayList<>();
    List<Manifest.Entry> digestChecks = new ArrayList<>();
    for (Manifest.Entry entry : manifest.entries().values()) {
      BlobInfo stored = present.get(entry.path().value());
      if (stored.size() != entry.size()) {
        mismatches.add(
            new ManifestMismatchException.Mismatch(
                entry.path().value(),
                "size",
                Long.toString(entry.size()),
                Long.toString(stored.size())));
      } else {
        digestChecks.add(entry);
      }
    }
    Map<String, String> digests = storedDigests(op, site, deployId, present, digestChecks);
    for (Manifest.Entry entry : digestChecks) {
      String stored = digests.get(entry.path().value());
      if (!entry.sha256().equals(stored)) {
        mismatches.add(
            new ManifestMismatchException.Mismatch(
                entry.path().value(), "sha256", entry.sha256(), stored));
      }
    }
    if (!mismatches.isEmpty()) {
      throw new ManifestMismatchException(mismatches);
    }
    Map<String, Marker.VerifiedFile> verified = new TreeMap<>();
    present.forEach(
        (path, info) ->
            verified.put(
                path,
                new Marker.VerifiedFile(
                    info.size(), info.etag(), digests.getOrDefault(path, info.sha256()))));
    return verified;
  }

  /**
   * The stored SHA-256 of each entry's file: from the listing when it has them; else the one this
   * host computed when it wrote the file, when the listing shows the ETag of that write (see {@link
   * UploadCounter}: no request); else a stat, else the bytes themselves, read {@value
   * DeployService#DIGEST_CHECKS_IN_PARALLEL} at a time.
   */
  private Map<String, String> storedDigests(
      Operation op,
      SiteId site,
      DeployId deployId,
      Map<String, BlobInfo> present,
      List<Manifest.Entry> entries) {
    Map<String, String> digests = new java.util.concurrent.ConcurrentHashMap<>();
    Map<String, BlobKey> toRead = new TreeMap<>();
    for (Manifest.Entry entry : entries) {
      BlobInfo listed = present.get(entry.path().value());
      String written = uploads.sha256(site, deployId, listed.key(), listed.etag());
      if (listed.sha256() != null) {
        digests.put(entry.path().value(), listed.sha256());
      } else if (written != null) {
        digests.put(entry.path().value(), written);
      } else {
        toRead.put(entry.path().value(), listed.key());
      }
    }
    if (toRead.isEmpty()) {
      return digests;
    }
    java.util.concurrent.ExecutorService pool =
        java.util.concurrent.Executors.newFixedThreadPool(
            Math.min(DeployService.DIGEST_CHECKS_IN_PARALLEL, toRead.size()),
            Threads.daemon("durable-deploy-verify"));
    try {
      List<java.util.concurrent.Future<?>> reads = new ArrayList<>();
      toRead.forEach(
          (path, key) ->
              reads.add(
                  pool.submit(
                      () -> {
                        String digest = retrier.call(op, () -> storedDigest(key));
                        if (digest != null) {
                          digests.put(path, digest);
                        }
                      })));
      for (java.util.concurrent.Future<?> read : reads) {
        read.get();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new DurableDeployException("finalize was interrupted while verifying digests", e);
    } catch (java.util.concurrent.ExecutionException e) {
      throw e.getCause() instanceof RuntimeException r
          ? r
          : new DurableDeployException("verifying a digest failed", e.getCause());
    } finally {
      pool.shutdownNow();
    }
    return digests;
  }

  /** The SHA-256 the store recorded for the object, or else that of its bytes; null if gone. */
  private String storedDigest(BlobKey key) {
    Optional<BlobInfo> stat = blobs.stat(key);
    if (stat.isEmpty()) {
      return null;
    }
    if (stat.get().sha256() != null) {
      return stat.get().sha256();
    }
    Optional<BlobContent> content = blobs.get(key);
    if (content.isEmpty()) {
      return null;
    }
    try (BlobContent c = content.get();
        java.security.DigestInputStream in =
            new java.security.DigestInputStream(c.stream(), sha256())) {
      in.transferTo(java.io.OutputStream.nullOutputStream());
      return java.util.HexFormat.of().formatHex(in.getMessageDigest().digest());
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException("reading " + key + " to verify its SHA-256 failed", e);
    }
  }

  private static java.security.MessageDigest sha256() {
    try {
      return java.security.MessageDigest.getInstance("SHA-256");
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JDK has SHA-256", e);
    }
  }

  private Deploy requireDeploy(Operation op, SiteId site, DeployId deployId) {
    return LiveDeploys.require(retrier, metadata, op, site, deployId);
  }
}
