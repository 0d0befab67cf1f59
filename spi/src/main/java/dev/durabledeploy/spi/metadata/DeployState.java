package dev.durabledeploy.spi.metadata;

/**
 * Where a deploy is in its life: {@code PENDING -> FINALIZING -> ACTIVE}, and {@code FINALIZING ->
 * PENDING} when finalize's verification fails. A soft-deleted deploy is a {@link Tombstone}, not a
 * state.
 */
public enum DeployState {
  /** Initialised; files may still be uploading; no marker yet. */
  PENDING,
  /**
   * Sealed by a finalize that is verifying it: uploads are refused, and an upload that was writing
   * when the seal landed re-checks the state after its write and withdraws what it wrote. Left
   * behind only by a finalize that crashed; the next finalize of the deploy resumes it.
   */
  FINALIZING,
  /** Finalized: marker written, may be the target of aliases. */
  ACTIVE
}
