package dev.durabledeploy.spi.blob;

import dev.durabledeploy.spi.exception.DurableDeployException;

/**
 * {@link BlobStore#create} found an object under the key: another writer created it first (or it
 * was there all along). Nothing was stored by the refused call; the existing object is unchanged.
 */
public class BlobExistsException extends DurableDeployException {

  private final BlobKey key;

  public BlobExistsException(BlobKey key) {
    super("an object already exists under '" + key + "'; a create-only write never replaces one");
    this.key = key;
  }

  public BlobKey key() {
    return key;
  }
}
