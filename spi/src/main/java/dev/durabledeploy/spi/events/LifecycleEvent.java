package dev.durabledeploy.spi.events;

import java.time.Instant;

/**
 * Something observable happened to a long operation, a clone or a sidecar. Families are sealed, so
 * a {@code switch} over them is exhaustive.
 */
public sealed interface LifecycleEvent permits OperationEvent, CloneEvent, SidecarEvent {

  /** The family: {@code operation}, {@code clone} or {@code sidecar}. */
  String topic();

  /**
   * What the event is about, stable across its events: an operation id, {@code repo:<id>}, {@code
   * sidecar:<name>}. The bus keeps the latest event per subject for status queries.
   */
  String subject();

  Instant at();

  /** Whether no further event is expected for this subject (until it starts again). */
  boolean isTerminal();
}
