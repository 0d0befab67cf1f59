package dev.durabledeploy.spi.lease;

import dev.durabledeploy.spi.JobKey;
import java.time.Instant;
import java.util.Objects;

/**
 * A claim on a long-running job (docs/invariants.md E4).
 *
 * @param owner who holds it; owner ids should contain a per-process instance id so a restarted
 *     process can tell its predecessor's leases from its own
 * @param startedAt when this owner acquired it
 * @param expiresAt when it may be stolen unless renewed first
 * @param attempt 1 when acquired fresh, +1 every time it is stolen after expiry: how many times the
 *     job was started without a clean release
 */
public record Lease(JobKey key, String owner, Instant startedAt, Instant expiresAt, int attempt) {

  public Lease {
    Objects.requireNonNull(key, "key");
    Objects.requireNonNull(owner, "owner");
    Objects.requireNonNull(startedAt, "startedAt");
    Objects.requireNonNull(expiresAt, "expiresAt");
  }

  public boolean isExpired(Instant now) {
    return !now.isBefore(expiresAt);
  }
}
