package dev.durabledeploy.core.alias;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.durabledeploy.core.deploy.BlobLayout;
import dev.durabledeploy.core.events.Operations;
import dev.durabledeploy.core.retry.Retrier;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.blob.BlobContent;
import dev.durabledeploy.spi.blob.BlobKey;
import dev.durabledeploy.spi.blob.BlobMetadata;
import dev.durabledeploy.spi.blob.BlobStore;
import dev.durabledeploy.spi.engine.RunContext;
import dev.durabledeploy.spi.engine.WorkflowDefinition;
import dev.durabledeploy.spi.engine.WorkflowHandler;
import dev.durabledeploy.spi.metadata.MetadataStore;
import dev.durabledeploy.spi.outbox.StandardEvents;
import dev.durabledeploy.spi.retry.RetryPolicy;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Optional;

/**
 * Workflow {@code alias-project}: keeps {@code <site>/aliases/<alias>.json} ({@code {"deployId":
 * ..., "version": ...}}) in the blob store in step with the alias rows, from {@code alias.changed}
 * events, for a serve plane that reads the bucket. Version-guarded: an object is never replaced by
 * an older version, so redelivered or reordered events are harmless. A deleted alias is written as
 * {@code "deployId": null} rather than removed, so the guard survives it. Events of a purged site
 * are skipped instead of re-creating its bytes.
 */
public final class AliasProjection implements WorkflowHandler {

  public static final String WORKFLOW = "alias-project";

  private static final ObjectMapper JSON = new ObjectMapper();

  private final BlobStore blobs;
  private final MetadataStore metadata;
  private final Operations operations;
  private final Retrier retrier;

  public AliasProjection(
      BlobStore blobs, MetadataStore metadata, Operations operations, Retrier retrier) {
    this.blobs = blobs;
    this.metadata = metadata;
    this.operations = operations;
    this.retrier = retrier;
  }

  /** The workflow, keyed by site so one site's projections apply in order. */
  public WorkflowDefinition definition(RetryPolicy policy) {
    return WorkflowDefinition.named(WORKFLOW)
        .keyedBy(StandardEvents.KEY_SITE)
        .retryPolicy(policy)
        .handler(this);
  }

  @Override
  public void run(RunContext context) {
    SiteId site = SiteId.of(context.input().get(StandardEvents.KEY_SITE));
    AliasName alias = AliasName.of(context.input().get(StandardEvents.KEY_ALIAS));
    long version = Long.parseLong(context.input().get(StandardEvents.KEY_VERSION));
    String target = context.input().getOrDefault(StandardEvents.KEY_DEPLOY_ID, "");
    DeployId deployId = target.isEmpty() ? null : DeployId.of(target);
    operations.run(
        WORKFLOW,
        site,
        op -> {
          if (!retrier.call(op, () -> siteExists(site))) {
            return op.skip("site " + site + " no longer exists");
          }
          return retrier.call(op, () -> project(site, alias, deployId, version));
        });
  }

  /** A purged site has no rows at all; one with a deleted alias still has deploys. */
  private boolean siteExists(SiteId site) {
    return !metadata.listAliases(site).isEmpty()
        || !metadata.listDeploys(site).isEmpty()
        || !metadata.listTombstones(site).isEmpty();
  }

  /** Writes the projection unless a newer version is already there; returns whether it wrote. */
  boolean project(SiteId site, AliasName alias, DeployId deployId, long version) {
    BlobKey key = BlobLayout.alias(site, alias);
    Optional<Long> existing = projectedVersion(key);
    if (existing.isPresent() && existing.get() >= version) {
      return false;
    }
    ObjectNode node = JSON.createObjectNode();
    node.put("deployId", deployId == null ? null : deployId.value());
    node.put("version", version);
    byte[] json = node.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8);
    blobs.put(
        key,
        new ByteArrayInputStream(json),
        json.length,
        new BlobMetadata("application/json", "no-cache"));
    return true;
  }

  private Optional<Long> projectedVersion(BlobKey key) {
    Optional<BlobContent> content = blobs.get(key);
    if (content.isEmpty()) {
      return Optional.empty();
    }
    try (BlobContent c = content.get()) {
      JsonNode node = JSON.readTree(c.readAllBytes());
      return Optional.of(node.path("version").asLong(0));
    } catch (IOException e) {
      throw new UncheckedIOException("reading the alias projection " + key + " failed", e);
    }
  }
}
