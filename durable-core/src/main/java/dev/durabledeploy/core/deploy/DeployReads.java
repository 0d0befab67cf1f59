package dev.durabledeploy.core.deploy;

import dev.durabledeploy.spi.DeployId;
import dev.durabledeploy.spi.SiteId;
import dev.durabledeploy.spi.exception.DurableDeployException;
import dev.durabledeploy.spi.metadata.Deploy;
import dev.durabledeploy.spi.metadata.MetadataStore;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/**
 * Reads of a deploy's row that began after the caller asked, shared by the uploads of one deploy
 * that ask at the same time: the read after an upload's write (see {@link DeployService}'s class
 * description) must begin after that write ended, and one read that began after several writes
 * ended answers for all of them. So a caller waits for the read in flight, if any, to end, and then
 * joins the next one (or makes it); it never takes the answer of a read that began before it asked,
 * so what it learns is as fresh as its own read would have been, whichever host changed the deploy.
 * A read that fails answers nobody: its maker reports the failure, and a waiter makes the next
 * read.
 */
final class DeployReads {

  /** One answer: the deploy as read. */
  record Read(Optional<Deploy> deploy) {}

  private final MetadataStore metadata;

  /** The reads of each deploy that has callers, by "site/deploy"; guarded by itself. */
  private final Map<String, Reads> reads = new HashMap<>();

  /** The reads of one deploy, one at a time; guarded by itself. */
  private static final class Reads {
    int callers;
    long begun;
    long ended;
    boolean running;
    Read last;
  }

  DeployReads(MetadataStore metadata) {
    this.metadata = metadata;
  }

  /** The deploy as read by a read that began after this call did. */
  Read fresh(SiteId site, DeployId deployId) {
    String key = site + "/" + deployId;
    Reads r;
    synchronized (reads) {
      r = reads.computeIfAbsent(key, k -> new Reads());
      r.callers++;
    }
    try {
      long mine;
      synchronized (r) {
        // Any read numbered above what has begun so far begins after this call.
        long needed = r.begun + 1;
        while (true) {
          if (r.ended >= needed) {
            return r.last;
          }
          if (!r.running) {
            r.running = true;
            mine = ++r.begun;
            break;
          }
          try {
            r.wait();
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DurableDeployException("interrupted while reading deploy " + deployId, e);
          }
        }
      }
      Read read = null;
      try {
        read = new Read(metadata.findDeploy(site, deployId));
        return read;
      } finally {
        synchronized (r) {
          r.running = false;
          if (read != null) {
            r.ended = mine;
            r.last = read;
          }
          r.notifyAll();
        }
      }
    } finally {
      synchronized (reads) {
        if (--r.callers == 0) {
          reads.remove(key);
        }
      }
    }
  }
}
