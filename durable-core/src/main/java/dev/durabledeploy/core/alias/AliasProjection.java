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
import dev.durabledeploy.spi.Store;
import dev.durabledeploy.spi.blob.BlobContent;
import dev.durabledeploy.spi.blob.BlobKey;
import dev.durabledeploy.spi.blob.BlobMetadata;
import dev.durabledeploy.spi.blob.BlobStore;
import dev.durabledeploy.spi.engine.RunContext;
import dev.durabledeploy.spi.engine.WorkflowDefinition;
import dev.durabledeploy.spi.engine.WorkflowHandler;
import dev.durabledeploy.spi.lock.SiteLock;
import dev.durabledeploy.spi.metadata.Alias;
import dev.durabledeploy.spi.metadata.MetadataStore;
import dev.durabledeploy.spi.outbox.StandardEvents;
import dev.durabledeploy.spi.retry.RetryPolicy;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.Optional;

/**
 * Workflow {@code alias-project}: keeps {@code <site>/aliases/<alias>.json} ({@code {"deployId":
 * ..., "version": ...}}) in the blob store in step with the alias rows, from {@code alias.changed}
 * events, for a serve plane that reads the bucket.
 *
 * <p>The event only says "this alias changed": each run writes the alias row as it is now, read
 * under the site lock (E1), so redelivered, reordered or stale events are harmless and two hosts
 * cannot interleave a read and a write. A deleted alias is written as {@code "deployId": null}
 * (with the event's version) rather than removed. Events of a purged site write nothing, and a
 * stale event that outlived a purge cannot pin a re-created site's projection to a version from
 * before the purge (alias versions start again at 1 after one). An unchanged projection is not
 * rewritten (V9).
 */
public final class AliasProjection implements WorkflowHandler {

  public static final String WORKFLOW = "alias-project";

  private static final ObjectMapper JSON = new ObjectMapper();

  private final BlobStore blobs;
  private final Store store;
  private final Operations operations;
  private final Retrier retrier;
  private final Duration lockTimeout;

  public AliasProjection(
      BlobStore blobs, Store store, Operations operations, Retrier retrier, Duration lockTimeout) {
    this.blobs = blobs;
    this.store = store;
    this.operations = operations;
    this.retrier = retrier;
    this.lockTimeout = lockTimeout;
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
    long eventVersion = Long.parseLong(context.input().get(StandardEvents.KEY_VERSION));
    operations.run(
        WORKFLOW,
        site,
        op -> {
          try (SiteLock lock = op.lockSite(store.siteLocks(), site, lockTimeout)) {
            Optional<Alias> row = retrier.call(op, () -> store.metadata().findAlias(site, alias));
            if (row.isPresent()) {
              return retrier.call(
                  op, () -> project(site, alias, row.get().target(), row.get().version()));
            }
            if (!retrier.call(op, () -> siteExists(site))) {
              return op.skip("site " + site + " no longer exists");
            }
            return retrier.call(op, () -> project(site, alias, null, eventVersion));
          }
        });
  }

  /** A purged site has no rows at all; one with a deleted alias still has deploys. */
  private boolean siteExists(SiteId site) {
    MetadataStore metadata = store.metadata();
    return !metadata.listAliases(site).isEmpty()
        || !metadata.listDeploys(site).isEmpty()
        || !metadata.listTombstones(site).isEmpty();
  }

  /**
   * Writes the projection unless it already says the same (for a deleted alias: that there is no
   * target); returns whether it wrote.
   */
  boolean project(SiteId site, AliasName alias, DeployId deployId, long version) {
    BlobKey key = BlobLayout.alias(site, alias);
    Optional<JsonNode> existing = projected(key);
    if (existing.isPresent()) {
      JsonNode old = existing.get();
      String oldTarget = old.path("deployId").isNull() ? null : old.path("deployId").asText();
      boolean sameTarget =
          deployId == null ? oldTarget == null : deployId.value().equals(oldTarget);
      if (sameTarget && (deployId == null || old.path("version").asLong() == version)) {
        return false;
      }
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

  private Optional<JsonNode> projected(BlobKey key) {
    Optional<BlobContent> content = blobs.get(key);
    if (content.isEmpty()) {
      return Optional.empty();
    }
    try (BlobContent c = content.get()) {
      return Optional.of(JSON.readTree(c.readAllBytes()));
    } catch (IOException e) {
      throw new UncheckedIOException("reading the alias projection " + key + " failed", e);
    }
  }
}
