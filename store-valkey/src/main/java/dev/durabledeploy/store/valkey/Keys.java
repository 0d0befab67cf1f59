package dev.durabledeploy.store.valkey;

import dev.durabledeploy.spi.JobKey;
import dev.durabledeploy.spi.SiteId;

/**
 * The key layout, all under the store's namespace. Keys of one site share the hash tag {@code
 * {<site>}} and all lease keys share {@code {leases}}, so every Lua script touches a single slot
 * and the layout works on a cluster.
 *
 * <pre>
 * &lt;ns&gt;:{&lt;site&gt;}:lock           site lock (string: holder token, PX expiry)
 * &lt;ns&gt;:{leases}:job:&lt;job key&gt;   lease (hash: owner, started, expires, attempt; epoch ms)
 * &lt;ns&gt;:{leases}:by-expiry       lease keys scored by expiry (zset)
 * &lt;ns&gt;:{leases}:by-key          lease keys, lexical (zset, score 0)
 * &lt;ns&gt;:site-changed             change bus (pub/sub channel; message: the site id)
 * </pre>
 */
record Keys(String namespace) {

  String lock(SiteId site) {
    return namespace + ":{" + site.value() + "}:lock";
  }

  String lease(JobKey key) {
    return namespace + ":{leases}:job:" + key.value();
  }

  String leasesByExpiry() {
    return namespace + ":{leases}:by-expiry";
  }

  String changes() {
    return namespace + ":site-changed";
  }

  String leasesByKey() {
    return namespace + ":{leases}:by-key";
  }
}
