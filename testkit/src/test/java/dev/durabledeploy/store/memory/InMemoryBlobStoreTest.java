package dev.durabledeploy.store.memory;

import dev.durabledeploy.spi.blob.BlobStore;
import dev.durabledeploy.testkit.MutableClock;
import dev.durabledeploy.testkit.tck.BlobStoreContract;

class InMemoryBlobStoreTest extends BlobStoreContract {
  @Override
  protected BlobStore createBlobStore(MutableClock clock) {
    return new InMemoryBlobStore(clock);
  }

  @Override
  protected boolean plantForeign(String rawKey, String content) {
    ((InMemoryBlobStore) blobs)
        .putForeign(rawKey, content.getBytes(java.nio.charset.StandardCharsets.UTF_8));
    return true;
  }
}
