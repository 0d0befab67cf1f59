package dev.durabledeploy.core.purge;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.durabledeploy.core.deploy.BlobLayout;
import dev.durabledeploy.core.events.Operations.Operation;
import dev.durabledeploy.core.metadata.MetadataCommands;
import dev.durabledeploy.core.retry.Retrier;
import dev.durabledeploy.spi.Actor;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.blob.BlobInfo;
import dev.durabledeploy.spi.blob.BlobMetadata;
import dev.durabledeploy.spi.blob.BlobStore;
import dev.durabledeploy.spi.exception.InvalidInputException;
import dev.durabledeploy.spi.metadata.MetadataStore;
import dev.durabledeploy.spi.metadata.SiteDeletion;
import java.io.ByteArrayInputStream;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Removes a whole site for good. The purge first records its intent ({@link
 * BlobLayout#purgeIntent}); then deletes its rows (its registry record stays, {@code PURGING}),
 * then its bytes (live, deploy trash and site trash), then the record, then the intent. Rows before
 * bytes, like every other removal (V6: the record first, the bytes second): an upload racing the
 * purge reads its deploy gone once the rows are, and withdraws whatever it wrote, so no write can
 * land after the bytes went and still find a deploy to report success into.
 *
 * <p>Because nobody is bound to call {@code purgeSite} again after a crash, whoever finds an intent
 * next finishes the purge, whatever step crashed: a {@code reconcile} of the site (drift {@code
 * PURGE_UNFINISHED}), the {@code tombstone-purge} cron, or an {@code init} on the site (so a new
 * deploy is never created into a half-purged site, where the unfinished purge would later remove
 * it). Rows gone and bytes still there is such a state; with the intent it is an unfinished purge,
 * without it it would look like abandoned bytes or, with the bytes gone first, a listing fault the
 * reconciler refuses to repair (E6).
 *
 * <p>Every method but {@link #pendingSites} expects its caller to hold the site's lock.
 */
public final class SitePurge {

  private static final ObjectMapper JSON = new ObjectMapper();

  private final MetadataCommands metadata;
  private final BlobStore blobs;
  private final Retrier retrier;
  private final Clock clock;

  public SitePurge(MetadataStore metadata, BlobStore blobs, Retrier retrier, Clock clock) {
    this.metadata = new MetadataCommands(metadata);
    this.blobs = blobs;
    this.retrier = retrier;
    this.clock = clock;
  }

  /** Intent, rows, bytes (live and trash), then the intent removed. Idempotent (V9). */
  public SiteDeletion purge(Operation op, SiteId site, Actor actor) {
    byte[] intent;
    try {
      intent =
          JSON.writeValueAsBytes(
              Map.of("site", site.value(), "requestedAt", clock.instant().toString()));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("a purge intent always serialises", e);
    }
    retrier.run(
        op,
        () ->
            blobs.put(
                BlobLayout.purgeIntent(site),
                new ByteArrayInputStream(intent),
                intent.length,
                BlobMetadata.ofType("application/json")));
    SiteDeletion deleted = retrier.call(op, () -> metadata.deleteSite(site, actor));
    retrier.run(op, () -> blobs.deletePrefix(BlobLayout.site(site), op.fence()));
    retrier.run(op, () -> blobs.deletePrefix(BlobLayout.trash(site), op.fence()));
    retrier.run(op, () -> blobs.deletePrefix(BlobLayout.siteTrash(site), op.fence()));
    // The record (PURGING since the rows went) last: until now it kept deploys and registrations
    // out of the half-deleted site.
    retrier.call(op, () -> metadata.forgetSite(site));
    retrier.run(op, () -> blobs.delete(BlobLayout.purgeIntent(site)));
    return deleted;
  }

  /** Whether a purge of the site started and has not finished. */
  public boolean pending(Operation op, SiteId site) {
    return retrier.call(op, () -> blobs.stat(BlobLayout.purgeIntent(site))).isPresent();
  }

  /** Finishes the site's unfinished purge, if it has one; returns whether it had. */
  public boolean finishPending(Operation op, SiteId site, Actor actor) {
    if (!pending(op, site)) {
      return false;
    }
    purge(op, site, actor);
    return true;
  }

  /** The sites whose purge started and has not finished, in key order. */
  public List<SiteId> pendingSites(Operation op) {
    String prefix = BlobLayout.purgeIntents().value();
    List<SiteId> sites = new ArrayList<>();
    for (BlobInfo info : retrier.call(op, () -> blobs.listAll(BlobLayout.purgeIntents()))) {
      String name = info.key().value().substring(prefix.length());
      if (!name.endsWith(".json")) {
        continue;
      }
      try {
        sites.add(SiteId.of(name.substring(0, name.length() - ".json".length())));
      } catch (InvalidInputException notOurs) {
        // Something else wrote under _purging/; not an intent this library can act on.
      }
    }
    return sites;
  }
}
