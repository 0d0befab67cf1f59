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
import dev.durabledeploy.spi.exception.InvalidInputException;
import dev.durabledeploy.spi.exception.TransientStoreException;
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
 * under the site lock (E1), so redelivered, reordered or stale events are harmless. A deleted alias
 * is written as {@code "deployId": null} (with the event's version) rather than removed. Events of
 * a purged site write nothing, and a stale event that outlived a purge cannot pin a re-created
 * site's projection to a version from before the purge (alias versions start again at 1 after one).
 * An unchanged projection is not rewritten (V9).
 *
 * <p><b>Version guard.</b> The site lock cannot stop a put already in flight when the lock expires
 * (a stalled request, a paused process): such a put lands late, after another host moved the alias
 * and projected it. So the projection never relies on the lock alone: before writing it reads the
 * object and leaves it alone when it already holds this version or a higher one, and after writing
 * it reads the alias row again and, if the row moved on meanwhile, projects the current row over
 * its own stale write (at most {@value #MAX_ROUNDS} rounds). Whoever writes the object last has
 * therefore read the row after its own write and written what it read; a row that changes after
 * that read has an event of its own, projected by a later run.
 */
public final class AliasProjection implements WorkflowHandler {

  public static final String WORKFLOW = "alias-project";

  /**
   * Write-then-re-check rounds before a run gives up (transiently) on an alias that keeps moving.
   */
  static final int MAX_ROUNDS = 10;

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
          // Lock: the site lock (E1), so no alias move of this library commits while we read
          // and write; the version guard in project() covers a write that outlives the lock.
          try (SiteLock lock = op.lockSite(store.siteLocks(), site, lockTimeout)) {
            var record = retrier.call(op, () -> store.metadata().findSite(site));
            if (record.isPresent() && !record.get().isActive()) {
              // A trashed site's projection sits in its trash and comes back with a restore as it
              // was; one being purged is going away. Writing one now would serve a deleted site.
              return op.skip("site " + site + " is " + record.get().state());
            }
            Optional<Boolean> wrote = retrier.call(op, () -> project(site, alias, eventVersion));
            if (wrote.isEmpty()) {
              return op.skip("site " + site + " no longer exists");
            }
            return wrote.get();
          }
        });
  }

  /**
   * What a projection object says: the target ({@code null} for a deleted alias) and its version.
   * An object this library did not write reads as a deletion at version -1.
   */
  public record Projected(DeployId target, long version) {}

  /** What the alias's projection object says now, or empty when there is none. */
  public Optional<Projected> read(SiteId site, AliasName alias) {
    return projected(BlobLayout.alias(site, alias));
  }

  /**
   * Projects the alias row as it is now, for the reconciler, which holds the site lock and has
   * judged {@code seen} (what the object said when it looked, or {@code null} for no object) wrong:
   * an object still saying {@code seen} is overwritten even where the version guard would keep it
   * (another target at the row's version or a newer one cannot be a projection of the row). An
   * alias without a live row is projected as deleted at {@code deletedVersion}, the version its
   * deleted row holds. Anything else goes as in the workflow.
   *
   * @return whether it wrote; empty when the site has no rows at all (nothing written)
   */
  public Optional<Boolean> repair(
      SiteId site, AliasName alias, Projected seen, long deletedVersion) {
    return project(site, alias, deletedVersion, seen);
  }

  /**
   * The projection the alias row asks for now: the row's target and version, a deleted alias (with
   * the event's version) while the site still exists, or empty for a purged site.
   */
  private Optional<Projected> wanted(SiteId site, AliasName alias, long eventVersion) {
    Optional<Alias> row = store.metadata().findAlias(site, alias);
    if (row.isPresent()) {
      return Optional.of(new Projected(row.get().target(), row.get().version()));
    }
    return siteExists(site) ? Optional.of(new Projected(null, eventVersion)) : Optional.empty();
  }

  /** A purged site has no rows at all; one with a deleted alias still has deploys. */
  private boolean siteExists(SiteId site) {
    MetadataStore metadata = store.metadata();
    return !metadata.listAliases(site).isEmpty()
        || !metadata.listDeploys(site).isEmpty()
        || !metadata.listTombstones(site).isEmpty();
  }

  /**
   * Writes the projection the alias row asks for, version-guarded, then re-checks the row (see the
   * class comment). Idempotent, so the retrier may run it again from the start.
   *
   * @return whether it wrote; empty when the site no longer exists (nothing written, or this run's
   *     own late write removed again)
   */
  Optional<Boolean> project(SiteId site, AliasName alias, long eventVersion) {
    return project(site, alias, eventVersion, null);
  }

  /**
   * {@link #project(SiteId, AliasName, long)}, overruling the version guard for an object that
   * still says exactly {@code overrule} (see {@link #repair}).
   */
  private Optional<Boolean> project(
      SiteId site, AliasName alias, long eventVersion, Projected overrule) {
    BlobKey key = BlobLayout.alias(site, alias);
    Optional<Projected> wanted = wanted(site, alias, eventVersion);
    Projected mine = null; // what this run wrote last
    boolean wrote = false;
    for (int round = 0; round < MAX_ROUNDS; round++) {
      if (wanted.isEmpty()) {
        // Purged meanwhile: our own write, if it landed after the purge, must not stay behind.
        if (mine != null && mine.equals(projected(key).orElse(null))) {
          blobs.delete(key);
        }
        return Optional.empty();
      }
      Optional<Projected> there = projected(key);
      if (there.isPresent()
          && !there.get().equals(mine)
          && !there.get().equals(overrule)
          && there.get().version() >= wanted.get().version()
          && (there.get().target() != null || wanted.get().target() == null)) {
        // This version or a newer one is already there, written by someone who re-checks the row
        // after their own write: never overwrite it (docs/invariants.md, "Rules without a code").
        // A "deleted" object does not hold back a live row: its version is an event's, not a
        // row's, and a stale event of a purged site (versions restart at 1) would otherwise pin a
        // re-created alias to "deleted" for good. A live row read that is stale is followed by
        // this run's own re-check below, which writes the deletion again.
        return Optional.of(wrote);
      }
      if (there.isPresent() && there.get().equals(wanted.get())) {
        return Optional.of(wrote);
      }
      write(key, wanted.get());
      mine = wanted.get();
      wrote = true;
      // The row may have moved on while the put was in flight, and whoever moved it may have
      // projected before the put landed: read it again, after the write, and follow it.
      Optional<Projected> now = wanted(site, alias, eventVersion);
      if (now.equals(wanted)) {
        return Optional.of(true);
      }
      wanted = now;
    }
    throw new TransientStoreException(
        "the alias "
            + alias
            + " of site '"
            + site
            + "' moved "
            + MAX_ROUNDS
            + " times while it was projected; the projection runs again");
  }

  private void write(BlobKey key, Projected projection) {
    ObjectNode node = JSON.createObjectNode();
    node.put("deployId", projection.target() == null ? null : projection.target().value());
    node.put("version", projection.version());
    byte[] json = node.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8);
    blobs.put(
        key,
        new ByteArrayInputStream(json),
        json.length,
        new BlobMetadata("application/json", "no-cache"));
  }

  /** What the object says now, or empty when there is none. */
  private Optional<Projected> projected(BlobKey key) {
    Optional<BlobContent> content = blobs.get(key);
    if (content.isEmpty()) {
      return Optional.empty();
    }
    JsonNode node;
    try (BlobContent c = content.get()) {
      node = JSON.readTree(c.readAllBytes());
    } catch (com.fasterxml.jackson.core.JsonProcessingException notJson) {
      // Not a projection this library wrote (nor anything a serve plane can read): replaced.
      return Optional.of(new Projected(null, -1));
    } catch (IOException e) {
      throw new UncheckedIOException("reading the alias projection " + key + " failed", e);
    }
    JsonNode target = node.path("deployId");
    long version = node.path("version").asLong(-1);
    if (!target.isTextual()) {
      return Optional.of(new Projected(null, version));
    }
    try {
      return Optional.of(new Projected(DeployId.of(target.asText()), version));
    } catch (InvalidInputException notOurs) {
      // Not a projection this library wrote: no version to respect, so it is replaced.
      return Optional.of(new Projected(null, -1));
    }
  }
}
