package dev.durabledeploy.spi;

/**
 * Who asked for a mutation, as recorded in the audit log: a user ({@code user:alice}), a token
 * name, or {@code system:gc} for background work. At most 128 characters, no control characters.
 */
public record Actor(String value) {

  /** Background work started by the library itself. */
  public static final Actor SYSTEM = new Actor("system");

  public Actor {
    Inputs.requireText("actor", value, 128);
  }

  public static Actor of(String value) {
    return new Actor(value);
  }

  @Override
  public String toString() {
    return value;
  }
}
