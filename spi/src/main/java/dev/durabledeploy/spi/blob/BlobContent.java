package dev.durabledeploy.spi.blob;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;

/** An open object: its info and a stream of its bytes. Close it to release the connection. */
public record BlobContent(BlobInfo info, InputStream stream) implements AutoCloseable {

  /** Reads the remaining bytes; for small objects (markers, alias files). */
  public byte[] readAllBytes() {
    try {
      return stream.readAllBytes();
    } catch (IOException e) {
      throw new UncheckedIOException("reading " + info.key() + " failed", e);
    }
  }

  @Override
  public void close() {
    try {
      stream.close();
    } catch (IOException e) {
      throw new UncheckedIOException("closing " + info.key() + " failed", e);
    }
  }
}
