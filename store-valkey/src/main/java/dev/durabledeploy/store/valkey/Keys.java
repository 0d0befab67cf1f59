package dev.durabledeploy.store.valkey;

import dev.durabledeploy.spi.JobKey;
import dev.durabledeploy.spi.SiteId;

/**
 * The key layout, all under the store's namespace. Keys of one site share the hash tag {@code
 * {<site>}} and all lease keys share {@code {leases}}, so the lock and lease scripts each touch a
 * single slot.
 *
 * <pre>
 * &lt;ns&gt;:{&lt;site&gt;}:lock           site lock (string: holder token, PX expiry)
 * &lt;ns&gt;:{leases}:job:&lt;job key&gt;   lease (hash: owner, started, expires, attempt, writer,
 *                                 srvexp; epoch ms, srvexp on the server's clock)
 * &lt;ns&gt;:{leases}:by-expiry       lease keys scored by expiry (zset)
 * &lt;ns&gt;:{leases}:by-server-expiry lease keys scored by expiry on the server's clock (zset)
 * &lt;ns&gt;:{leases}:by-key          lease keys, lexical (zset, score 0)
 * &lt;ns&gt;:site-changed             change bus (pub/sub channel; message: the site id)
 *
 * &lt;ns&gt;:{&lt;site&gt;}:rev            revision, renewed from {meta}:rev by every metadata command that
 *                                 writes; deleted with the site's last row, its record included
 *                                 (string)
 * &lt;ns&gt;:{&lt;site&gt;}:deploys        live deploys (hash: deploy id -&gt; record)
 * &lt;ns&gt;:{&lt;site&gt;}:aliases        aliases, deleted ones with an empty target (hash: name -&gt; record)
 * &lt;ns&gt;:{&lt;site&gt;}:tombstones     tombstones (hash: deploy id -&gt; record)
 * &lt;ns&gt;:{&lt;site&gt;}:site           registry record (string: length-prefixed displayName, owner,
 *                                 state, created, updated, purgeAfter, version, then label key
 *                                 and value pairs; times epoch us)
 * &lt;ns&gt;:{&lt;site&gt;}:audit          audit log, newest first, trimmed to auditLogLength (list of
 *                                 "id:record"); kept when the site is deleted
 * &lt;ns&gt;:{&lt;site&gt;}:audit-seq      last audit id of the site, written by older versions only: read
 *                                 once into {meta}:audit-seq, then deleted (string)
 * &lt;ns&gt;:{&lt;site&gt;}:queue          undelivered outbox event ids, oldest first (list)
 * &lt;ns&gt;:{&lt;site&gt;}:claims         claimed event ids by lease expiry (zset)
 * &lt;ns&gt;:{meta}:sites              sites with any deploy, alias or tombstone (zset, score 0)
 * &lt;ns&gt;:{meta}:tombstone-expiry   "site deployId" by expiry, epoch us (zset)
 * &lt;ns&gt;:{meta}:registered         sites with a registry record, any state (zset, score 0)
 * &lt;ns&gt;:{meta}:site-purge         TRASHED sites by purgeAfter, epoch us (zset; ties by site id)
 * &lt;ns&gt;:{meta}:rev                last revision handed to any site: none is reused (string)
 * &lt;ns&gt;:{meta}:audit-seq          last audit id of any site (string)
 * &lt;ns&gt;:{outbox}:seq              last event id (string)
 * &lt;ns&gt;:{outbox}:ev:&lt;id&gt;          event (hash: site, type, created, attempts, next, owner, lease,
 *                                 error, failures, delivered, dead, p.&lt;payload key&gt;;
 *                                 times epoch us)
 * &lt;ns&gt;:{outbox}:ready            claimable sites by their oldest event id (zset)
 * &lt;ns&gt;:{outbox}:leased           sites under a claim by its expiry (zset)
 * &lt;ns&gt;:{outbox}:delayed          sites whose failed oldest event is not due, by due time (zset)
 * &lt;ns&gt;:{outbox}:undelivered      undelivered ids (zset, score: id)
 * &lt;ns&gt;:{outbox}:claimed          claimed ids by lease expiry (zset)
 * &lt;ns&gt;:{outbox}:delivered        delivered ids by delivery time (zset)
 * &lt;ns&gt;:{outbox}:dead-letters     dead-lettered ids, out of every site queue (zset, score: id)
 * &lt;ns&gt;:{outbox}:wake             append wake-ups for XREAD BLOCK (stream, capped)
 * &lt;ns&gt;:{outbox}:lost             events a claim found missing and skipped (string, a count)
 * </pre>
 *
 * <p>The metadata commands and the outbox share their scripts' atoms, so those scripts touch a
 * site's keys and the {@code {meta}}/{@code {outbox}} indexes together: the metadata store and
 * outbox need one primary (standalone or Sentinel), not a cluster.
 */
record Keys(String namespace) {

  String lock(SiteId site) {
    return namespace + ":{" + site.value() + "}:lock";
  }

  /** The store waiting next for the site's lock (see {@code lock-acquire.lua}); same slot. */
  String lockNext(SiteId site) {
    return namespace + ":{" + site.value() + "}:lock-next";
  }

  String lease(JobKey key) {
    return namespace + ":{leases}:job:" + key.value();
  }

  String leasesByExpiry() {
    return namespace + ":{leases}:by-expiry";
  }

  String leasesByServerExpiry() {
    return namespace + ":{leases}:by-server-expiry";
  }

  String changes() {
    return namespace + ":site-changed";
  }

  String leasesByKey() {
    return namespace + ":{leases}:by-key";
  }

  String site(SiteId site, String suffix) {
    return namespace + ":{" + site.value() + "}:" + suffix;
  }

  String meta(String suffix) {
    return namespace + ":{meta}:" + suffix;
  }

  String outbox(String suffix) {
    return namespace + ":{outbox}:" + suffix;
  }
}
