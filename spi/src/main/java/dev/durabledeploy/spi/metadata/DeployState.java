package dev.durabledeploy.spi.metadata;

/** Where a deploy is in its life. A soft-deleted deploy is a {@link Tombstone}, not a state. */
public enum DeployState {
  /** Initialised; files may still be uploading; no marker yet. */
  PENDING,
  /** Finalized: marker written, may be the target of aliases. */
  ACTIVE
}
