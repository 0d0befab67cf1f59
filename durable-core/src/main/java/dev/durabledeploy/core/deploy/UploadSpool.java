package dev.durabledeploy.core.deploy;

import dev.durabledeploy.spi.exception.InvalidInputException;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * An upload body read to the end before the site lock is taken, so that a slow or stalled client
 * never holds the lock: small bodies in memory, larger ones in a temporary file that {@link
 * #close()} removes. The body can then be written (and a failed write retried) while the lock is
 * held for as long as the store needs, not as long as the client does.
 */
final class UploadSpool implements AutoCloseable {

  /** Bodies up to this size stay in memory. */
  static final int IN_MEMORY = 1024 * 1024;

  private final byte[] bytes;
  private final Path file;

  private UploadSpool(byte[] bytes, Path file) {
    this.bytes = bytes;
    this.file = file;
  }

  /**
   * Reads exactly {@code size} bytes from {@code data}.
   *
   * @throws InvalidInputException (field {@code size}) when the stream is shorter or longer
   */
  static UploadSpool read(InputStream data, long size) {
    try {
      if (size <= IN_MEMORY) {
        byte[] bytes = data.readNBytes((int) size);
        requireExact(data, bytes.length, size);
        return new UploadSpool(bytes, null);
      }
      Path file = Files.createTempFile("durable-deploy-upload-", ".part");
      try {
        long copied;
        try (OutputStream out = Files.newOutputStream(file)) {
          copied = copy(data, out, size);
        }
        requireExact(data, copied, size);
        return new UploadSpool(null, file);
      } catch (IOException | RuntimeException e) {
        Files.deleteIfExists(file);
        throw e;
      }
    } catch (IOException e) {
      throw new UncheckedIOException("reading the upload stream failed", e);
    }
  }

  private static long copy(InputStream in, OutputStream out, long size) throws IOException {
    byte[] buffer = new byte[64 * 1024];
    long copied = 0;
    while (copied < size) {
      int n = in.read(buffer, 0, (int) Math.min(buffer.length, size - copied));
      if (n < 0) {
        break;
      }
      out.write(buffer, 0, n);
      copied += n;
    }
    return copied;
  }

  private static void requireExact(InputStream data, long read, long size) throws IOException {
    if (read < size) {
      throw new InvalidInputException(
          "size", "the stream ended after " + read + " of " + size + " bytes");
    }
    if (data.read() != -1) {
      throw new InvalidInputException("size", "the stream holds more than " + size + " bytes");
    }
  }

  /** A fresh stream of the whole body; the caller closes it. */
  InputStream open() {
    if (bytes != null) {
      return new ByteArrayInputStream(bytes);
    }
    try {
      return Files.newInputStream(file);
    } catch (IOException e) {
      throw new UncheckedIOException("reading the spooled upload " + file + " failed", e);
    }
  }

  @Override
  public void close() {
    if (file != null) {
      try {
        Files.deleteIfExists(file);
      } catch (IOException e) {
        // A temporary file the OS cleans up; it holds nothing another caller could reuse.
        file.toFile().deleteOnExit();
      }
    }
  }
}
