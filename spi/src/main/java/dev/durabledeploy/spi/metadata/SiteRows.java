package dev.durabledeploy.spi.metadata;

import dev.durabledeploy.spi.Actor;
import dev.durabledeploy.spi.AliasName;
import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.outbox.NewEvent;
import java.time.Instant;
import java.util.Map;

/**
 * One site's rows as one unit of work sees them, and where its writes go; valid only inside {@link
 * MetadataStore#inSite} (every call after the work has ended is refused). Reads see the work's own
 * writes. Lookups answer null for rows that do not exist; a lookup or write of a deploy or
 * tombstone the work's {@link RowSelection} does not name is refused (see {@link
 * MetadataStore#inSite}). Nothing written here is visible to anyone else until the unit of work
 * returns, and nothing of it ever is if the work throws.
 */
public interface SiteRows {

  /** The unit of work's time: the store's clock, read once, at the store's precision. */
  Instant now();

  /** {@code at} as the store keeps it (e.g. truncated to microseconds). */
  Instant stored(Instant at);

  /** A live deploy: one the work selected in its {@link RowSelection}, or one an alias targets. */
  Deploy deploy(DeployId id);

  /** A tombstone the work selected in its {@link RowSelection}. */
  Tombstone tombstone(DeployId id);

  /** Every alias row of the site, deleted ones included, ordered by name. */
  Map<AliasName, AliasRow> aliases();

  /** How many live deploys the site has. */
  int deployCount();

  /** How many tombstones the site has. */
  int tombstoneCount();

  /**
   * The site's registry record, or {@code null} when it is not registered. Always loaded, whatever
   * the selection: every command's gate reads it.
   */
  Site site();

  /**
   * Writes the site's registry record (insert or replace). {@link #removeAll} removes it too.
   *
   * @throws IllegalArgumentException when the record is of another site
   */
  void putSite(Site site);

  /** Writes a live deploy row, replacing the one with its id. */
  void putDeploy(Deploy deploy);

  void removeDeploy(DeployId id);

  /** Writes an alias row, replacing the one with its name. */
  void putAlias(AliasName name, AliasRow row);

  /** Writes a tombstone row, replacing the one with its deploy's id. */
  void putTombstone(Tombstone tombstone);

  void removeTombstone(DeployId id);

  /**
   * Removes every deploy, alias row and tombstone of the site, and its registry record (alias
   * versions start again).
   */
  void removeAll();

  /** Appends an audit entry at {@link #now()}, after the work's earlier entries. */
  void audit(Actor actor, String action, String target, String before, String after);

  /** Appends an outbox event at {@link #now()}, after the work's earlier events. */
  void emit(NewEvent event);
}
