package dev.durabledeploy.spi.engine;

/** The engine's own lifecycle. */
public enum EngineStatus {
  NEW,
  RUNNING,
  STOPPING,
  STOPPED
}
