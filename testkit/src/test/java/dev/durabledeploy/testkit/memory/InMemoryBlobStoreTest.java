package dev.durabledeploy.testkit.memory;

import dev.durabledeploy.spi.blob.BlobStore;
import dev.durabledeploy.testkit.MutableClock;
import dev.durabledeploy.testkit.tck.BlobStoreContract;

class InMemoryBlobStoreTest extends BlobStoreContract {
  @Override
  protected BlobStore createBlobStore(MutableClock clock) {
    return new InMemoryBlobStore(clock);
  }
}
