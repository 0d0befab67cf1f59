package dev.durabledeploy.spi.events;

import java.nio.file.Path;
import java.time.Instant;

/** The life of a supervised helper process. The subject is {@code sidecar:<name>}. */
public sealed interface SidecarEvent extends LifecycleEvent {

  /** The supervisor's name for the sidecar. */
  String name();

  @Override
  default String topic() {
    return "sidecar";
  }

  @Override
  default String subject() {
    return "sidecar:" + name();
  }

  @Override
  default boolean isTerminal() {
    return false;
  }

  /** Which step an {@link Error} happened in. */
  enum Step {
    BUILD,
    SPAWN,
    CONNECT,
    RUN
  }

  record Building(String name, Path dir, Instant at) implements SidecarEvent {}

  record Starting(String name, Path dir, Instant at) implements SidecarEvent {}

  /** The sidecar connected back and identified itself as {@code id}. */
  record Connected(String name, String id, Instant at) implements SidecarEvent {}

  record Disconnected(String name, String id, Instant at) implements SidecarEvent {}

  record Exited(String name, int exitCode, Instant at) implements SidecarEvent {}

  record Error(String name, Step step, String reason, Instant at) implements SidecarEvent {
    @Override
    public boolean isTerminal() {
      return true;
    }
  }
}
