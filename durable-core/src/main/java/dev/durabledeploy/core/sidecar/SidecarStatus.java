package dev.durabledeploy.core.sidecar;

/** Where a supervised sidecar is. */
public enum SidecarStatus {
  /** None configured, its directory missing, or stopped. */
  IDLE,
  /** Running its build steps. */
  BUILDING,
  /** Spawned (or restarting), not yet connected back. */
  STARTING,
  /** Connected back and serving its capabilities. */
  CONNECTED,
  /** A build failed, or it kept crashing: a human must look. */
  FAILED
}
