package dev.durabledeploy.store.postgres;

import dev.durabledeploy.spi.exception.DurableDeployException;

/**
 * The database lacks migrations this version of the library needs. The message names the missing
 * migration and the two ways to apply it.
 */
public class SchemaNotMigratedException extends DurableDeployException {

  public SchemaNotMigratedException(String message) {
    super(message);
  }
}
