package dev.durabledeploy.spi.engine;

import dev.durabledeploy.spi.Inputs;
import java.util.regex.Pattern;

/** The id of one workflow run, assigned by the engine. */
public record RunId(String value) {

  private static final Pattern ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9:._@/-]{0,199}");

  public RunId {
    Inputs.requireMatch("runId", value, 200, ID, "must match [A-Za-z0-9][A-Za-z0-9:._@/-]{0,199}");
  }

  @Override
  public String toString() {
    return value;
  }
}
